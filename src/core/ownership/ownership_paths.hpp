// Which tables hold a tenant's rows, and through which foreign key each row finds its tenant.
//
// Tables with a tenant column (and root tables, which the tenant columns reference) hold their
// tenant's rows directly. Any other table whose rows reference such a table through a foreign
// key, directly or through a chain of any depth, is a *path* table: a row belongs to the tenant of
// the row it references. Ownership follows exactly one foreign key per table:
//  - found automatically when the table has one foreign key that leads to tenant rows without
//    passing through the table itself (self-references and cycles do not count);
//  - declared by the DBA when there are several, which are then listed and never guessed.
// A table that would hold tenant rows but cannot be read safely (its owner is not trusted) is a
// gap, and so is every table that reaches tenant rows only through a gap.
#pragma once
#include <string>
#include <vector>

namespace tb::ownership {

enum class Role {
	Candidate, // may be a path table, if its foreign keys lead to tenant rows
	Direct,    // has the tenant column, or is a root table
	Excluded,  // declared not tenant data (backup_exclude_table)
	Blocked,   // may not be read (blocked_reason says why); a gap if it would hold tenant rows
};

struct Table {
	std::string name; // for messages
	Role role = Role::Candidate;
	std::string declared;       // the foreign key its ownership follows, when the DBA chose one
	std::string blocked_reason; // Role::Blocked
	bool tenant_column = false; // Role::Blocked: would be Direct if it could be read
};

// A foreign key of `child` referencing `parent` (indexes into the table list).
struct Edge {
	std::string constraint;
	size_t child = 0, parent = 0;
};

enum class Kind {
	Direct,    // Role::Direct
	Path,      // rows found through edge `via`
	Shared,    // holds no tenant rows, but tenant rows reference it
	Unrelated, // neither holds nor is referenced by tenant rows
	Gap,       // would hold tenant rows, but backups cannot include it: `gap` says why
};

struct Assignment {
	Kind kind = Kind::Unrelated;
	int via = -1;  // Kind::Path: index of the edge followed
	int depth = 0; // foreign keys between the table and a Direct table (0 for Direct)
	std::string gap;
	std::vector<size_t> candidates; // an ambiguous gap's edges
};

// One assignment per table. Deterministic: the same input gives the same result.
std::vector<Assignment> resolve(const std::vector<Table> &tables, const std::vector<Edge> &edges);

// The edges from `table` to Direct tables, in order: edges[result[0]] leaves `table`, and the
// parent of the last one is Direct. Empty unless the table's kind is Path.
std::vector<size_t> path_of(size_t table, const std::vector<Assignment> &assignments, const std::vector<Edge> &edges);

} // namespace tb::ownership
