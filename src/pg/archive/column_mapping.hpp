// How the archived columns of one table map onto the table as it is now (schema drift): the one
// rule for every restore path (restore, import, drill). docs/REFERENCE.md (backup_restore, "Schema drift") states it
// as one table:
//   - a column found by name keeps its values; one that no longer exists, or is now generated, is
//     skipped with a WARNING;
//   - a column whose type changed is converted: by the cast PostgreSQL applies on assignment
//     (int -> bigint, a wider numeric, varchar(n) -> text, text -> citext), else through text when
//     either type is a string or an enum type (enum labels that still exist); any other change is
//     refused when planned. A value that does not convert is an error naming the table, the
//     column and the row's key (MappedTuples), and nothing is restored;
//   - a table or column renamed since is found again: by tenant_backup.restore_renames when it
//     names it, else (restoring into the database the backup was taken in) by the table's OID and
//     the column's attnum recorded in the archive; a name found as it was wins over both;
//   - a column that is NOT NULL now, without a default (nor identity, nor generated), and that the
//     archive does not hold, is an error naming it.
// Columns whose type is unchanged are not decoded at all: their bytes go to COPY as archived.
#pragma once
#include "core/archive/copy_binary.hpp"
#include "core/archive/format.hpp"
#include "core/stream/stream.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/boundary/value_styles.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

// A column of a table now. Needs SPI connected.
struct CurrentColumn {
	std::string type; // format_type()
	bool generated;
	Oid type_oid;
	int32 typmod;
	bool not_null, has_default, identity;
	int16 attnum;
};
std::map<std::string, CurrentColumn> current_columns(Oid relid);

// A kept field whose type changed since the archive.
struct ColumnConversion {
	size_t field; // its index among the archived fields
	std::string column;
	std::string from, to; // format_type() spellings: archived, now
	Oid to_type;
	int32 to_typmod;
	bool via_text; // no assignment cast: the old type's output, the new type's input
};

struct ColumnPlan {
	std::vector<bool> keep;        // per archived field
	std::vector<std::string> load; // columns that receive the kept fields, in order
	bool drops_fields = false;
	std::vector<ColumnConversion> conversions;
	std::vector<size_t> key_fields; // archived fields of the table's primary key (empty: none archived)
	bool maps_fields() const { return drops_fields || !conversions.empty(); }
};

// Plans the mapping (see above). `source` names the archive in messages ("backup 7", "the
// document"); `consequence` ends an error ("nothing was restored"). `archived_table` is the
// table's name in the archive (schema.table), for tenant_backup.restore_renames; `attnums` the
// archived columns' attnums when `relid` is the very table archived (empty otherwise). Needs SPI
// connected.
ColumnPlan plan_columns(const std::vector<archive::Column> &archived, Oid relid, const std::string &display,
                        const std::string &source, const std::string &consequence,
                        const std::string &archived_table = "", const std::vector<int32_t> &attnums = {});

// The table an archived table is now when its name no longer finds it: the one
// tenant_backup.restore_renames maps it to (an error if that does not exist), else, in the
// database the backup was taken in, the table with the OID the archive recorded. Locked ROW
// EXCLUSIVE. nullopt when neither finds one. Needs SPI connected.
struct RenamedTable {
	Oid relid;
	std::string schema, name;
	std::string found_by; // how, for messages
};
std::optional<RenamedTable> find_renamed_table(const archive::TableHeader &table, const std::string &source);

// Whether the archive's OIDs and attnums name objects of this database (see database_identity).
bool same_database(const archive::TableHeader &table);

// The archived tuples of a table (binary COPY tuples of `archived`) as the table takes them now,
// tuples of plan.load: dropped fields skipped, changed types converted, every other field passed
// on as its bytes. A value that does not convert is an error naming the table, the column and the
// row's key. Conversions run code of the types (casts, input functions): read it where COPY reads
// (inside the restore's LoadingScope, as the table's owner when a superuser restores).
class MappedTuples : public Source {
public:
	MappedTuples(Source &archived, const std::vector<archive::Column> &columns, const ColumnPlan &plan,
	             std::string display, std::string source, std::string consequence);
	~MappedTuples() override;
	MappedTuples(const MappedTuples &) = delete;
	MappedTuples &operator=(const MappedTuples &) = delete;
	size_t read(uint8_t *buf, size_t cap) override;

private:
	struct Converter;
	void convert_row();
	std::string row_key();
	Source &archived_;
	const std::vector<archive::Column> &columns_;
	const ColumnPlan &plan_;
	std::string display_, source_, consequence_;
	std::optional<PinnedValueStyles> styles_;           // while converting (value_styles.hpp)
	std::unique_ptr<archive::TupleFieldFilter> filter_; // no conversions: only dropped fields
	std::unique_ptr<archive::CopyTupleReader> reader_;
	std::vector<archive::CopyTupleReader::Field> fields_;
	std::vector<Converter *> converters_; // per archived field, or null (palloc'd, in context_)
	MemoryContext context_ = nullptr, row_context_ = nullptr;
	size_t kept_ = 0;
	uint64 rows_ = 0;
	std::string out_;
	size_t out_pos_ = 0;
	bool done_ = false;
};

} // namespace tb::pg
