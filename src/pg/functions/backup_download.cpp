// tenant_backup.backup_download(backup_id bigint) RETURNS SETOF text
// tenant_backup.backup_export_csv(backup_id bigint, tbl regclass) RETURNS SETOF text
//
// A backup as one JSON document, or one of its tables as CSV, streamed as rows of text (one row
// per line) straight from the archive: checksum checked first, then every chunk authenticated,
// decrypted and decompressed, every field decoded with its type's receive function and rendered
// the way PostgreSQL renders it (row_to_json, or the type's output function for CSV). The
// document layout is described in docs/FORMAT.md ("The JSON download").
#include "core/archive/archive_reader.hpp"
#include "core/document/json_document.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/archive_rows.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/read_privileges.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/text_lines.hpp"
#include "pg/archive/type_code.hpp"

#include <optional>

extern "C" {
#include "utils/fmgrprotos.h"
}

namespace tb::pg {

namespace {

// The "backup" object: the catalog row's fields, and the server version of the backup itself.
std::string backup_json(int64 id, const std::string &archive_metadata) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams params = SqlParams().int8(id).text(archive_metadata);
	const char *json = pg_eval([&] {
		spi_run("SELECT json_build_object('id', id, 'tenant', tenant, 'kind', kind, 'label', label, "
		        "  'created_at', created_at, 'snapshot', snapshot_at, 'checksum', sha256, "
		        "  'server_version', coalesce($2::jsonb ->> 'server_version', server_version), "
		        "  'encrypted', encrypted, 'row_count', row_count)::text "
		        "FROM tenant_backup.backups WHERE id = $1",
		        params, true, SPI_OK_SELECT);
		return static_cast<const char *>(spi_text(0, 1));
	});
	return json;
}

std::string json_strings(const std::vector<std::string> &items) {
	std::string out = "[";
	for (size_t i = 0; i < items.size(); i++)
		out += (i ? ", " : "") + quote_json(items[i]);
	return out + "]";
}

// The table object's fields before "rows".
std::string table_fields(const archive::TableHeader &table) {
	std::string out = "\"schema\": " + quote_json(table.schema) + ", \"name\": " + quote_json(table.name) +
	                  ", \"tenant_column\": " + quote_json(table.tenant_column) + ", \"columns\": [";
	for (size_t i = 0; i < table.columns.size(); i++)
		out += (i ? ", " : "") + std::string("{\"name\": ") + quote_json(table.columns[i].name) +
		       ", \"type\": " + quote_json(table.columns[i].type) + "}";
	out += "]";
	if (!table.path.empty()) { // a table whose rows are found through foreign keys
		out += ", \"path\": [";
		for (size_t i = 0; i < table.path.size(); i++)
			out += (i ? ", " : "") + std::string("{\"constraint\": ") + quote_json(table.path[i].constraint) +
			       ", \"schema\": " + quote_json(table.path[i].schema) +
			       ", \"name\": " + quote_json(table.path[i].name) +
			       ", \"columns\": " + json_strings(table.path[i].columns) +
			       ", \"referenced\": " + json_strings(table.path[i].referenced) + "}";
		out += "]";
	}
	return out;
}

void check_row_count(const ArchiveRowDecoder &rows, const archive::ArchiveReader &reader, int64 id,
                     const archive::TableHeader &table) {
	if (rows.rows() != reader.table_rows())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
		                                           table.schema + "." + table.name + " holds " +
		                                           std::to_string(rows.rows()) + " rows, its section records " +
		                                           std::to_string(reader.table_rows()));
}

// row_to_json calls a type's cast to json, which the type's owner wrote. For a superuser caller,
// the one role whose casts a table's rows reach, if any: the rows are then rendered as that role
// (restricted), never as a superuser. Casts of several roles in one table are refused.
Oid json_cast_owner_for(TupleDesc desc, const tb::archive::TableHeader &table, int64 id) {
	if (!pg_eval([] { return superuser(); }))
		return InvalidOid;
	bool several = false;
	Oid owner = pg_eval([&] {
		Oid found = InvalidOid;
		for (int i = 0; i < desc->natts; i++) {
			Oid o = json_cast_owner(TupleDescAttr(desc, i)->atttypid, &several);
			if (OidIsValid(o)) {
				several = several || (OidIsValid(found) && found != o);
				found = o;
			}
		}
		return found;
	});
	if (several)
		throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE,
		               "cannot download backup " + std::to_string(id) + " as a superuser: the columns of " +
		                   table.schema + "." + table.name + " have casts to json written by several roles",
		               "Their code would run with a superuser's rights.",
		               "Download as a role that is not a superuser and holds backup.download.");
	return owner;
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_download) {
	AuditedAction audit("download"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	TextLines out(fcinfo);
	spi_begin();
	StoredBackup backup = authorize_backup(id, "downloaded", "backup.download", audit, BackupHold::Reading);
	// Every table and column of the backup is rendered: the caller must be able to read them all.
	std::vector<ArchivedTable> tables = catalog_tables(id);
	bool restricted = require_read_privileges(tables, id, backup.tenant, "download", "nothing was downloaded");
	OpenedBackup b = open_backup(backup, "nothing was downloaded", false);
	tb::archive::ArchiveReader &reader = *b.reader;

	out.hash_lines(true);
	out.put(tb::document::header_line(backup_json(id, reader.metadata())));
	bool first_table = true;
	while (std::optional<tb::archive::TableHeader> table = reader.next_table()) {
		if (restricted)
			check_header_within(*table, tables, id);
		out.put(tb::document::table_start_line(table_fields(*table), first_table));
		first_table = false;
		ArchiveRowDecoder rows(reader, *table);
		TupleDesc desc = rows.tuple_desc();
		std::optional<AsTableOwner> cast_owner; // row_to_json may call casts to json of other roles
		if (Oid owner = json_cast_owner_for(desc, *table, id))
			cast_owner.emplace(AsTableOwner::Role{owner}, AsTableOwner::Mode::Restricted);
		while (rows.next()) {
			// One JSON object per line; every row after the first starts with the comma before it.
			bool first_row = rows.rows() == 1;
			const char *line = pg_eval([&] {
				MemoryContext old = MemoryContextSwitchTo(rows.row_context());
				HeapTuple tuple =
				    heap_form_tuple(desc, const_cast<Datum *>(rows.values()), const_cast<bool *>(rows.nulls()));
				Datum json = DirectFunctionCall1(row_to_json, HeapTupleGetDatum(tuple));
				StringInfoData buf;
				initStringInfo(&buf);
				if (!first_row)
					appendStringInfoChar(&buf, ',');
				appendStringInfoString(&buf, TextDatumGetCString(json));
				MemoryContextSwitchTo(old);
				return static_cast<const char *>(buf.data);
			});
			out.put(line);
		}
		check_row_count(rows, reader, id, *table);
		out.put(tb::document::table_end_line(rows.rows()));
	}
	out.hash_lines(false);
	// The checksum covers every line above, each followed by "\n": the file's bytes up to here.
	out.put(tb::document::checksum_line(out.hex_digest()));
	audit.ok_independently(); // the rows leave even if the caller's transaction rolls back
	spi_end();
	return 0;
}

TB_SQL_FUNCTION(backup_export_csv) {
	AuditedAction audit("export_csv"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	if (PG_ARGISNULL(1))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tbl must not be NULL");
	Oid relid = PG_GETARG_OID(1);
	TextLines out(fcinfo);
	spi_begin();
	std::string schema, name;
	pg_call([&] {
		char *rel = get_rel_name(relid);
		char *nsp = get_namespace_name(get_rel_namespace(relid));
		if (!rel || !nsp)
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
		name = rel;
		schema = nsp;
	});
	StoredBackup backup = authorize_backup(id, "exported", "backup.download", audit, BackupHold::Reading);
	// Only the one table is rendered: its archived columns are what the caller must be able to read.
	std::vector<ArchivedTable> tables;
	for (auto &t : catalog_tables(id))
		if (t.schema == schema && t.name == name)
			tables.push_back(std::move(t));
	bool restricted = require_read_privileges(tables, id, backup.tenant, "export_csv", "nothing was exported");
	OpenedBackup b = open_backup(backup, "nothing was exported", false);
	tb::archive::ArchiveReader &reader = *b.reader;
	bool found = false;
	while (std::optional<tb::archive::TableHeader> table = reader.next_table()) {
		if (table->schema != schema || table->name != name)
			continue; // next_table() skips the rest of this one
		found = true;
		if (restricted)
			check_header_within(*table, tables, id);
		std::vector<std::string> names;
		for (const auto &c : table->columns)
			names.push_back(c.name);
		out.put(pg_eval([&] { return static_cast<const char *>(csv_header(names)); }));
		ArchiveRowDecoder rows(reader, *table);
		std::vector<Oid> types;
		for (size_t i = 0; i < rows.columns(); i++)
			types.push_back(rows.type(i));
		std::vector<FmgrInfo> output = output_functions(types);
		while (rows.next()) {
			const char *line = pg_eval([&] {
				MemoryContext old = MemoryContextSwitchTo(rows.row_context());
				char *csv = csv_line(output.data(), static_cast<int>(output.size()), rows.values(), rows.nulls());
				MemoryContextSwitchTo(old);
				return static_cast<const char *>(csv);
			});
			out.put(line);
		}
		check_row_count(rows, reader, id, *table);
	}
	if (!found)
		throw SqlError(ERRCODE_UNDEFINED_TABLE,
		               "table " + schema + "." + name + " is not in backup " + std::to_string(id),
		               "tenant_backup.backups.tables lists the tables of a backup.");
	audit.ok_independently(); // the rows leave even if the caller's transaction rolls back
	spi_end();
	return 0;
}
