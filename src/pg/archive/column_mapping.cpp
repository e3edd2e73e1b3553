#include "pg/archive/column_mapping.hpp"

#include "pg/archive/archive_rows.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <algorithm>
#include <cstring>
#include <set>

extern "C" {
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace tb::pg {

std::map<std::string, CurrentColumn> current_columns(Oid relid) {
	SqlParams of_relid = SqlParams().oid(relid);
	uint64 rows = pg_eval([&] {
		return spi_run("SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', "
		               "  a.atttypid, a.atttypmod, a.attnotnull, "
		               "  a.atthasdef OR t.typdefaultbin IS NOT NULL, a.attidentity <> '', a.attnum "
		               "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) "
		               "  a.atttypid "
		               "WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0 "
		               "  AND NOT a.attisdropped",
		               of_relid, true, SPI_OK_SELECT);
	});
	std::map<std::string, CurrentColumn> columns;
	for (uint64 r = 0; r < rows; r++) {
		struct {
			char *name, *type;
			CurrentColumn c;
		} raw{};
		pg_call([&] {
			bool isnull;
			raw.name = spi_text(r, 1);
			raw.type = spi_text(r, 2);
			raw.c.generated = DatumGetBool(spi_datum(r, 3, &isnull));
			raw.c.type_oid = DatumGetObjectId(spi_datum(r, 4, &isnull));
			raw.c.typmod = DatumGetInt32(spi_datum(r, 5, &isnull));
			raw.c.not_null = DatumGetBool(spi_datum(r, 6, &isnull));
			raw.c.has_default = DatumGetBool(spi_datum(r, 7, &isnull));
			raw.c.identity = DatumGetBool(spi_datum(r, 8, &isnull));
			raw.c.attnum = DatumGetInt16(spi_datum(r, 9, &isnull));
		});
		raw.c.type = raw.type;
		columns[raw.name] = raw.c;
	}
	return columns;
}

namespace {

std::string trimmed(const std::string &s) {
	size_t a = s.find_first_not_of(" \t\n"), b = s.find_last_not_of(" \t\n");
	return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// tenant_backup.restore_renames as old name -> new name: "schema.table" -> "schema.table", and
// "schema.table.column" -> "column".
std::map<std::string, std::string> restore_renames() {
	std::map<std::string, std::string> renames;
	std::string setting = setting_restore_renames();
	size_t at = 0;
	while (at <= setting.size()) {
		size_t comma = setting.find(',', at);
		std::string item = trimmed(setting.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
		at = comma == std::string::npos ? setting.size() + 1 : comma + 1;
		if (item.empty())
			continue;
		size_t eq = item.find('=');
		std::string from = eq == std::string::npos ? "" : trimmed(item.substr(0, eq));
		std::string to = eq == std::string::npos ? "" : trimmed(item.substr(eq + 1));
		size_t dots = static_cast<size_t>(std::count(from.begin(), from.end(), '.'));
		if (from.empty() || to.empty() || dots < 1 || dots > 2 ||
		    static_cast<size_t>(std::count(to.begin(), to.end(), '.')) != (dots == 1 ? 1u : 0u))
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "tenant_backup.restore_renames: \"" + item +
			                                                    "\" is not schema.table=schema.new_table or "
			                                                    "schema.table.column=new_column");
		renames[from] = to;
	}
	return renames;
}

// The table's primary key columns, in key order (none without a primary key).
std::vector<std::string> primary_key(Oid relid) {
	std::vector<std::string> names;
	for (const auto &r : spi_query("SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_index i "
	                               "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	                               "  AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]) "
	                               "WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND i.indisprimary "
	                               "ORDER BY pg_catalog.array_position(i.indkey::pg_catalog.int2[], a.attnum)",
	                               {std::to_string(relid)}, true))
		names.push_back(*r[0]);
	return names;
}

// How a value of archived type `from` becomes one of the column's type now: an assignment cast,
// else through text when either type is a string or an enum type; -1 when neither applies, -2
// when the archived type no longer exists.
int conversion_kind(const std::string &from, Oid to) {
	const char *f = from.c_str();
	return pg_eval([f, to] {
		ArchivedType t;
		if (!t.init(f, true))
			return -2;
		Oid source = t.decode_typid;
		if (can_coerce_type(1, &source, &to, COERCION_ASSIGNMENT))
			return 0;
		char from_category = TypeCategory(source), to_category = TypeCategory(getBaseType(to));
		if (from_category == TYPCATEGORY_STRING || from_category == TYPCATEGORY_ENUM ||
		    to_category == TYPCATEGORY_STRING || to_category == TYPCATEGORY_ENUM)
			return 1;
		return -1;
	});
}

} // namespace

bool same_database(const archive::TableHeader &table) {
	return table.relid != 0 && !table.database.empty() && table.database == database_identity();
}

std::optional<RenamedTable> find_renamed_table(const archive::TableHeader &table, const std::string &source) {
	std::map<std::string, std::string> renames = restore_renames();
	auto mapped = renames.find(table.schema + "." + table.name);
	RenamedTable found{InvalidOid, "", "", ""};
	if (mapped != renames.end()) {
		size_t dot = mapped->second.find('.');
		found.schema = mapped->second.substr(0, dot);
		found.name = mapped->second.substr(dot + 1);
		const char *schema = found.schema.c_str(), *name = found.name.c_str();
		found.relid = pg_eval([schema, name] {
			return RangeVarGetRelid(makeRangeVar(pstrdup(schema), pstrdup(name), -1), RowExclusiveLock, true);
		});
		if (found.relid == InvalidOid)
			throw SqlError(ERRCODE_UNDEFINED_TABLE, "table " + mapped->second +
			                                            ", which tenant_backup.restore_renames "
			                                            "maps table " +
			                                            table.schema + "." + table.name + " of " + source +
			                                            " to, does not exist");
		found.found_by = "mapped by tenant_backup.restore_renames";
		return found;
	}
	if (!same_database(table))
		return std::nullopt;
	Oid relid = table.relid;
	struct {
		char *schema, *name;
	} now{};
	bool exists = pg_eval([relid, &now] {
		LockRelationOid(relid, RowExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid))) {
			UnlockRelationOid(relid, RowExclusiveLock);
			return false;
		}
		now.name = get_rel_name(relid);
		now.schema = get_namespace_name(get_rel_namespace(relid));
		return true;
	});
	if (!exists)
		return std::nullopt;
	return RenamedTable{relid, now.schema, now.name, "found by the OID " + source + " recorded"};
}

ColumnPlan plan_columns(const std::vector<archive::Column> &archived, Oid relid, const std::string &display,
                        const std::string &source, const std::string &consequence, const std::string &archived_table,
                        const std::vector<int32_t> &attnums) {
	std::map<std::string, CurrentColumn> columns = current_columns(relid);
	std::map<std::string, std::string> renames = restore_renames();
	ColumnPlan plan;
	std::set<std::string> loaded;
	std::vector<std::string> now_names(archived.size());
	for (size_t i = 0; i < archived.size(); i++) {
		const archive::Column &col = archived[i];
		// Renamed since: mapped explicitly, else found by the attnum the archive recorded (never
		// when the name still finds a column: a column dropped and added again is new).
		std::string name = col.name;
		auto mapped = renames.find(archived_table + "." + col.name);
		if (!archived_table.empty() && mapped != renames.end()) {
			name = mapped->second;
			// Only a column that is gone may be mapped: a mapping of one that still exists would let a
			// restore load any archived values into any column, past its triggers (bio into is_admin).
			if (name != col.name && columns.count(col.name))
				throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
				               "tenant_backup.restore_renames maps column \"" + col.name + "\" of table " + display +
				                   " to \"" + name + "\", but column \"" + col.name +
				                   "\" still exists; only a column renamed or dropped since " + source +
				                   " can be mapped; " + consequence);
			if (!columns.count(name))
				throw SqlError(ERRCODE_UNDEFINED_COLUMN, "column \"" + name + "\" of table " + display +
				                                             ", which tenant_backup.restore_renames "
				                                             "maps column \"" +
				                                             col.name + "\" of " + source + " to, does not exist; " +
				                                             consequence);
			notice("column \"" + col.name + "\" of table " + display + " in " + source + " is restored into column \"" +
			       name + "\" (mapped by tenant_backup.restore_renames)");
		} else if (!columns.count(name) && i < attnums.size()) {
			for (const auto &[other, c] : columns)
				if (c.attnum == attnums[i] && !loaded.count(other)) {
					name = other;
					notice("column \"" + col.name + "\" of table " + display + " in " + source +
					       " is restored into column \"" + name + "\" (renamed since; found by the attnum " + source +
					       " recorded)");
				}
		}
		auto it = columns.find(name);
		if (it != columns.end() && loaded.count(name))
			throw SqlError(ERRCODE_DUPLICATE_COLUMN,
			               "column \"" + name + "\" of table " + display + " would receive two columns of " + source +
			                   " (tenant_backup.restore_renames maps one onto the other); " + consequence,
			               "", "Map only a column that no longer exists.");
		if (it == columns.end() || it->second.generated) {
			plan.keep.push_back(false);
			plan.drops_fields = true;
			warn("column \"" + col.name + "\" of table " + display + " " +
			         (it == columns.end() ? "no longer exists" : "is now a generated column") + "; its values in " +
			         source + " are skipped",
			     it == columns.end() && !archived_table.empty()
			         ? "If it was renamed, SET tenant_backup.restore_renames = '" + archived_table + "." + col.name +
			               "=new_name' and try again."
			         : "");
			continue;
		}
		if (it->second.type != col.type) {
			int kind = conversion_kind(col.type, it->second.type_oid);
			if (kind < 0)
				throw SqlError(ERRCODE_DATATYPE_MISMATCH,
				               "column \"" + col.name + "\" of table " + display + " changed type from " + col.type +
				                   " to " + it->second.type + " since " + source + ", and " +
				                   (kind == -2 ? "type " + col.type + " no longer exists"
				                               : "PostgreSQL has no assignment cast between them") +
				                   "; " + consequence,
				               "A restore converts a changed column by the cast PostgreSQL applies on assignment, or "
				               "through text when either type is a string or an enum type.",
				               "Change the column back to a type its archived values convert to, restore, then "
				               "migrate again.");
			plan.conversions.push_back(
			    {i, name, col.type, it->second.type, it->second.type_oid, it->second.typmod, kind == 1});
		}
		plan.keep.push_back(true);
		plan.load.push_back(name);
		loaded.insert(name);
		now_names[i] = name;
	}
	for (const auto &[name, c] : columns)
		if (!loaded.count(name) && c.not_null && !c.has_default && !c.identity && !c.generated)
			throw SqlError(ERRCODE_NOT_NULL_VIOLATION,
			               "column \"" + name + "\" of table " + display + " is NOT NULL without a default, and " +
			                   source + " holds no values for it; " + consequence,
			               "",
			               "Give the column a default (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...) or allow "
			               "NULL in it, then try again.");
	for (const auto &key : primary_key(relid)) {
		size_t at = archived.size();
		for (size_t i = 0; i < archived.size(); i++)
			if (plan.keep[i] && now_names[i] == key)
				at = i;
		if (at == archived.size()) {
			plan.key_fields.clear();
			break;
		}
		plan.key_fields.push_back(at);
	}
	return plan;
}

// One converted column: decoded as archived, converted by the planned expression, sent as the
// column's type now. palloc'd (plain data only).
struct MappedTuples::Converter {
	ArchivedType from;
	ExprState *expr;
	ExprContext *econtext;
	FmgrInfo send;
};

namespace {

void put_be16(std::string &out, uint16_t v) {
	out.push_back(static_cast<char>(v >> 8));
	out.push_back(static_cast<char>(v & 0xff));
}

void put_be32(std::string &out, uint32_t v) {
	for (int shift = 24; shift >= 0; shift -= 8)
		out.push_back(static_cast<char>((v >> shift) & 0xff));
}

} // namespace

MappedTuples::MappedTuples(Source &archived, const std::vector<archive::Column> &columns, const ColumnPlan &plan,
                           std::string display, std::string source, std::string consequence)
    : archived_(archived), columns_(columns), plan_(plan), display_(std::move(display)), source_(std::move(source)),
      consequence_(std::move(consequence)) {
	if (plan.conversions.empty()) {
		if (plan.drops_fields)
			filter_ = std::make_unique<archive::TupleFieldFilter>(archived, plan.keep);
		return;
	}
	styles_.emplace();
	for (bool k : plan.keep)
		kept_ += k;
	reader_ = std::make_unique<archive::CopyTupleReader>(archived, columns.size());
	converters_.assign(columns.size(), nullptr);
	context_ = pg_eval([] {
		return AllocSetContextCreate(CurrentMemoryContext, "tenant_backup conversions", ALLOCSET_DEFAULT_SIZES);
	});
	MemoryContext context = context_;
	row_context_ = pg_eval(
	    [context] { return AllocSetContextCreate(context, "tenant_backup converted row", ALLOCSET_DEFAULT_SIZES); });
	for (const auto &conv : plan.conversions) {
		const char *from = columns[conv.field].type.c_str();
		const ColumnConversion *cv = &conv;
		converters_[conv.field] = pg_eval([context, from, cv] {
			MemoryContext old = MemoryContextSwitchTo(context);
			auto *c = static_cast<Converter *>(palloc0(sizeof(Converter)));
			c->from.init(from, false);
			CaseTestExpr *value = makeNode(CaseTestExpr);
			value->typeId = c->from.decode_typid;
			value->typeMod = c->from.decode_typmod;
			value->collation = get_typcollation(c->from.decode_typid);
			Node *expr = reinterpret_cast<Node *>(value);
			if (cv->via_text) {
				CoerceViaIO *io = makeNode(CoerceViaIO);
				io->arg = reinterpret_cast<Expr *>(value);
				io->resulttype = cv->to_type;
				io->resultcollid = get_typcollation(cv->to_type);
				io->coerceformat = COERCE_EXPLICIT_CAST;
				io->location = -1;
				expr = reinterpret_cast<Node *>(io);
			}
			Oid expr_type = exprType(expr);
			expr = coerce_to_target_type(nullptr, expr, expr_type, cv->to_type, cv->to_typmod, COERCION_ASSIGNMENT,
			                             COERCE_IMPLICIT_CAST, -1);
			if (!expr)
				elog(ERROR, "no conversion from %s to %s", cv->from.c_str(), cv->to.c_str());
			c->expr = ExecInitExpr(expression_planner(reinterpret_cast<Expr *>(expr)), nullptr);
			c->econtext = CreateStandaloneExprContext();
			Oid send;
			bool varlena;
			getTypeBinaryOutputInfo(cv->to_type, &send, &varlena);
			fmgr_info(send, &c->send);
			MemoryContextSwitchTo(old);
			return c;
		});
	}
}

MappedTuples::~MappedTuples() {
	MemoryContext context = context_;
	if (!context)
		return;
	try {
		pg_call([context] { MemoryContextDelete(context); });
	} catch (...) {
		// Deleting a context does not fail; and the transaction's end frees it anyway.
	}
}

size_t MappedTuples::read(uint8_t *buf, size_t cap) {
	if (filter_)
		return filter_->read(buf, cap);
	if (!reader_)
		return archived_.read(buf, cap);
	if (out_pos_ == out_.size()) {
		if (done_ || !reader_->next(fields_)) {
			done_ = true;
			return 0;
		}
		rows_++;
		convert_row();
	}
	size_t n = std::min(cap, out_.size() - out_pos_);
	std::memcpy(buf, out_.data() + out_pos_, n);
	out_pos_ += n;
	return n;
}

void MappedTuples::convert_row() {
	out_.clear();
	out_pos_ = 0;
	put_be16(out_, static_cast<uint16_t>(kept_));
	MemoryContext row = row_context_;
	pg_call([row] { MemoryContextReset(row); });
	for (size_t i = 0; i < fields_.size(); i++) {
		if (!plan_.keep[i])
			continue;
		Converter *c = converters_[i];
		const archive::CopyTupleReader::Field &f = fields_[i];
		if (!c || f.length < 0) {
			out_.append(reinterpret_cast<const char *>(f.data - 4), 4);
			if (f.length > 0)
				out_.append(reinterpret_cast<const char *>(f.data), static_cast<size_t>(f.length));
			continue;
		}
		const char *column = columns_[i].name.c_str();
		bytea *sent = nullptr;
		try {
			sent = pg_eval([c, &f, row, column] {
				MemoryContext old = MemoryContextSwitchTo(row);
				ResetExprContext(c->econtext);
				c->econtext->caseValue_datum = c->from.decode(f.data, f.length, column);
				c->econtext->caseValue_isNull = false;
				bool isnull;
				Datum converted = ExecEvalExpr(c->expr, c->econtext, &isnull);
				bytea *bytes = isnull ? nullptr : SendFunctionCall(&c->send, converted);
				MemoryContextSwitchTo(old);
				return bytes;
			});
		} catch (const PgError &e) {
			std::string why = e.what();
			int code = e.edata()->sqlerrcode;
			const ColumnConversion *conv = nullptr;
			for (const auto &cv : plan_.conversions)
				if (cv.field == i)
					conv = &cv;
			throw SqlError(code,
			               "the value of column \"" + columns_[i].name + "\" of table " + display_ + " in " + source_ +
			                   " does not convert from " + conv->from + " to " + conv->to + " in " + row_key() + ": " +
			                   why + "; " + consequence_,
			               "",
			               "Change the column to a type every archived value converts to, or restore into a "
			               "table that takes them.");
		}
		if (!sent) {
			put_be32(out_, 0xffffffffu);
			continue;
		}
		size_t len = VARSIZE(sent) - VARHDRSZ;
		put_be32(out_, static_cast<uint32_t>(len));
		out_.append(VARDATA(sent), len);
	}
}

// "(id)=(7)", from the archived fields of the primary key, as PostgreSQL names a row in a key
// violation; the row's number in the table's section when the key is not archived.
std::string MappedTuples::row_key() {
	if (plan_.key_fields.empty())
		return "row " + std::to_string(rows_) + " of the table (its primary key is not in " + source_ + ")";
	std::string names, values;
	for (size_t k : plan_.key_fields) {
		names += (names.empty() ? "" : ", ") + columns_[k].name;
		const archive::CopyTupleReader::Field &f = fields_[k];
		const char *type = columns_[k].type.c_str(), *column = columns_[k].name.c_str();
		const char *text = "NULL";
		if (f.length >= 0) {
			try {
				text = pg_eval([type, column, &f] {
					ArchivedType t;
					t.init(type, false);
					Datum v = t.decode(f.data, f.length, column);
					Oid output;
					bool varlena;
					getTypeOutputInfo(t.decode_typid, &output, &varlena);
					return static_cast<const char *>(OidOutputFunctionCall(output, v));
				});
			} catch (const PgError &) {
				text = "?";
			}
		}
		values += (values.empty() ? "" : ", ") + std::string(text);
	}
	return "the row with key (" + names + ")=(" + values + ")";
}

} // namespace tb::pg
