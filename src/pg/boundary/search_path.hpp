// The search_path our own statements run with. A schema another role can write (public, before
// PostgreSQL 15) must never decide which function, operator or type a statement of ours uses:
// that is how a table owner's `public.=(varchar, varchar)` or `public.format()` once ran as
// superuser (docs/SECURITY.md). So every SQL function (TB_SQL_FUNCTION) and every worker main pins
// `pg_catalog, pg_temp` for its whole run, as SECURITY DEFINER functions with SET search_path do.
// Type names that archives record (format_type) are therefore schema-qualified outside pg_catalog,
// as 0.1.0 already recorded them (it read the tables' columns with this path too).
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

inline constexpr const char *kPinnedSearchPath = "pg_catalog, pg_temp";

// While alive: search_path = kPinnedSearchPath, in a GUC nest level of its own. On an error the
// (sub)transaction's abort pops the level; the destructor touches nothing then.
class PinnedSearchPath {
public:
	PinnedSearchPath();
	~PinnedSearchPath();
	PinnedSearchPath(const PinnedSearchPath &) = delete;
	PinnedSearchPath &operator=(const PinnedSearchPath &) = delete;

private:
	int exceptions_at_entry_ = 0;
	int guc_level_ = 0;
};

// Opens a GUC nest level of our own and pins search_path in it; returns the level. Plain
// PostgreSQL calls (inside pg_call).
int pin_search_path_in_new_level();

// Ends a GUC nest level from a destructor, undoing every setting made inside it, never throwing,
// and not at all while unwinding from an error (exceptions_at_entry: std::uncaught_exceptions()
// when the level was opened), since the abort that follows ends it and nothing else may run
// before that abort.
void end_guc_level(int level, int exceptions_at_entry) noexcept;

// For a background worker's whole life (its statements all run as a superuser).
void pin_worker_search_path();

} // namespace tb::pg
