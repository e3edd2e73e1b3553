#include "pg/catalog/permissions.hpp"
#include "pg/catalog/catalog.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

extern "C" {
#include "catalog/pg_collation.h"
#include "utils/fmgrprotos.h"
}

namespace tb::pg {

namespace {
// Advisory lock class of tenant locks ("TBUP"); the second key is hashtext(tenant).
constexpr int32 kTenantLockClass = 0x54425550;
constexpr int32 kBackupWriteLockClass = 0x54425557;

// pg_lsn's text form, "%X/%X".
std::string lsn_text(uint64 lsn) {
	char text[32];
	snprintf(text, sizeof(text), "%X/%X", static_cast<uint32>(lsn >> 32), static_cast<uint32>(lsn));
	return text;
}

uint64 lsn_of(const char *text) {
	unsigned hi = 0, lo = 0;
	if (sscanf(text, "%X/%X", &hi, &lo) != 2)
		throw SqlError(ERRCODE_DATA_CORRUPTED, std::string("not a WAL position: ") + text);
	return (static_cast<uint64>(hi) << 32) | lo;
}

} // namespace

std::string quote_json(const std::string &s) {
	const char *in = s.c_str();
	const char *out = pg_eval([in] {
		StringInfoData buf;
		initStringInfo(&buf);
		escape_json(&buf, in);
		return static_cast<const char *>(buf.data);
	});
	return out;
}

std::string json_object(const std::vector<std::pair<std::string, std::string>> &fields) {
	std::string out = "{";
	for (const auto &[key, value] : fields) {
		if (out.size() > 1)
			out += ", ";
		out += quote_json(key) + ": " + quote_json(value);
	}
	return out + "}";
}

std::string tables_json(const std::vector<TableSummary> &tables) {
	std::string out = "[";
	for (const auto &t : tables) {
		if (out.size() > 1)
			out += ", ";
		out += "{\"schema\": " + quote_json(t.schema) + ", \"name\": " + quote_json(t.name) +
		       ", \"tenant_column\": " + quote_json(t.tenant_column) + ", \"rows\": " + std::to_string(t.rows) +
		       ", \"columns\": [";
		bool first = true;
		for (const auto &[name, type] : t.columns) {
			out += (first ? "" : ", ") + std::string("{\"name\": ") + quote_json(name) +
			       ", \"type\": " + quote_json(type) + "}";
			first = false;
		}
		out += "]}";
	}
	return out + "]";
}

void spi_begin() {
	pg_call([] {
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "tenant_backup: SPI_connect failed");
	});
}

void spi_end() {
	pg_call([] { SPI_finish(); });
}

int64 next_backup_id() {
	AsExtensionOwner owner; // the catalog is the extension's own
	return pg_eval([] {
		spi_run("SELECT nextval('tenant_backup.backups_id_seq')", SqlParams::none(), false, SPI_OK_SELECT);
		bool isnull;
		return DatumGetInt64(spi_datum(0, 1, &isnull));
	});
}

void insert_completed_backup(const NewBackup &b) {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::string tables = tables_json(b.tables);
	if (b.replaces_running_row &&
	    spi_query("DELETE FROM tenant_backup.backups WHERE id = $1 AND status = 'running' RETURNING id",
	              SqlParams().int8(b.id))
	        .empty())
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "scheduled backup " + std::to_string(b.id) + " is no longer running");
	SqlParams row;
	row.int8(b.id).text(b.tenant).text(b.kind).text(b.label);
	row.timestamptz(b.created_at).timestamptz(b.snapshot_at);
	row.text(tables).int8(static_cast<int64>(b.rows)).int8(static_cast<int64>(b.size_bytes));
	row.text(b.sha256).text(b.compression).text(b.repository).text(b.object_name).text(b.location);
	if (b.key_generation == 0)
		row.null(INT4OID);
	else
		row.int4(static_cast<int32>(b.key_generation));
	row.text(b.claimed);
	const std::optional<BackupReadHorizon> &h = b.read_horizon;
	row.text(h ? SqlValue(std::to_string(h->xmin)) : std::nullopt);
	row.text(h ? SqlValue(h->system_identifier) : std::nullopt);
	row.text(h ? SqlValue(std::to_string(h->timeline)) : std::nullopt);
	row.text(h ? SqlValue(lsn_text(h->lsn)) : std::nullopt);
	pg_call([&] {
		spi_run("INSERT INTO tenant_backup.backups (id, tenant, kind, label, status, created_at, finished_at, "
		        "  snapshot_at, server_version, tables, row_count, size_bytes, sha256, compression, repository, "
		        "  object_name, location, encrypted, key_generation, claimed, snapshot_xmin, system_identifier, "
		        "  snapshot_timeline, snapshot_lsn) "
		        "VALUES ($1, $2, $3, $4, 'completed', $5, clock_timestamp(), $6, "
		        "  current_setting('server_version'), $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15 IS NOT NULL, "
		        "  $15, $16::jsonb, $17::xid8, $18, $19::int, $20::pg_lsn)",
		        row, false, SPI_OK_INSERT);
	});
	for (const auto &c : b.copies)
		spi_query("INSERT INTO tenant_backup.backup_copies (backup_id, repository, object_name, location, size_bytes, "
		          "sha256, stored_at, state, error) VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN $6 END, "
		          "CASE WHEN $5 THEN $7 END, CASE WHEN $5 THEN clock_timestamp() END, "
		          "CASE WHEN $5 THEN 'stored' ELSE 'missing' END, $8)",
		          SqlParams()
		              .int8(b.id)
		              .text(c.repository)
		              .text(b.object_name)
		              .text(c.location)
		              .boolean(c.stored)
		              .int8(static_cast<int64>(b.size_bytes))
		              .text(b.sha256)
		              .text(c.stored ? std::nullopt : SqlValue(c.error)));
}

std::optional<StoredBackup> find_backup(int64 id, bool lock) {
	AsExtensionOwner owner; // the catalog is the extension's own
	struct {
		uint64 rows;
		char *tenant, *status, *sha256, *object_name, *error, *size, *repository, *original_id, *key_generation;
		char *snapshot_xmin, *system_identifier, *timeline, *lsn;
	} raw{};
	SqlParams params = SqlParams().int8(id);
	pg_call([&] {
		raw.rows = spi_run(lock ? "SELECT tenant, status, sha256, object_name, error, size_bytes::text, "
		                          "repository, original_id::text, key_generation::text, snapshot_xmin::text, "
		                          "system_identifier, snapshot_timeline::text, snapshot_lsn::text "
		                          "FROM tenant_backup.backups WHERE id = $1 FOR UPDATE"
		                        : "SELECT tenant, status, sha256, object_name, error, size_bytes::text, "
		                          "repository, original_id::text, key_generation::text, snapshot_xmin::text, "
		                          "system_identifier, snapshot_timeline::text, snapshot_lsn::text "
		                          "FROM tenant_backup.backups WHERE id = $1",
		                   params, false, SPI_OK_SELECT);
		if (raw.rows == 1) {
			raw.tenant = spi_text(0, 1);
			raw.status = spi_text(0, 2);
			raw.sha256 = spi_text(0, 3);
			raw.object_name = spi_text(0, 4);
			raw.error = spi_text(0, 5);
			raw.size = spi_text(0, 6);
			raw.repository = spi_text(0, 7);
			raw.original_id = spi_text(0, 8);
			raw.key_generation = spi_text(0, 9);
			raw.snapshot_xmin = spi_text(0, 10);
			raw.system_identifier = spi_text(0, 11);
			raw.timeline = spi_text(0, 12);
			raw.lsn = spi_text(0, 13);
		}
	});
	if (raw.rows != 1)
		return std::nullopt;
	StoredBackup b;
	b.id = id;
	b.tenant = raw.tenant;
	b.status = raw.status;
	b.error = raw.error ? raw.error : "";
	b.repository = raw.repository;
	b.has_archive = raw.sha256 && raw.object_name && raw.size;
	if (raw.original_id)
		b.original_id = std::stoll(raw.original_id);
	if (raw.key_generation)
		b.key_generation = static_cast<uint32_t>(std::stoul(raw.key_generation));
	if (raw.snapshot_xmin && raw.system_identifier && raw.timeline && raw.lsn)
		b.read_horizon = BackupReadHorizon{std::stoull(raw.snapshot_xmin), raw.system_identifier,
		                                   static_cast<uint32>(std::stoul(raw.timeline)), lsn_of(raw.lsn)};
	if (b.has_archive) {
		b.sha256 = raw.sha256;
		b.object_name = raw.object_name;
		b.size_bytes = std::stoll(raw.size);
	}
	return b;
}

StoredBackup load_backup(int64 id, bool lock) {
	std::optional<StoredBackup> b = find_backup(id, lock);
	if (!b)
		throw SqlError(ERRCODE_NO_DATA_FOUND, "backup " + std::to_string(id) + " does not exist", "",
		               "tenant_backup.backup_list() shows the existing backups.");
	return *b;
}

void require_completed(const StoredBackup &b, const char *action) {
	if (b.status != "completed")
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "backup " + std::to_string(b.id) + " is " + b.status + " and cannot be " + action,
		               b.error.empty() ? "" : "Its error was: " + b.error);
}

StoredBackup load_completed_backup(int64 id, const char *action) {
	StoredBackup b = load_backup(id);
	require_completed(b, action);
	return b;
}

void delete_backup_row(int64 id) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams params = SqlParams().int8(id);
	pg_call([&] { spi_run("DELETE FROM tenant_backup.backups WHERE id = $1", params, false, SPI_OK_DELETE); });
}

void lock_tenant(const std::string &tenant, bool exclusive) {
	const char *t = tenant.c_str();
	pg_call([t, exclusive] {
		Datum key = DirectFunctionCall1Coll(hashtext, C_COLLATION_OID, CStringGetTextDatum(t));
		if (exclusive)
			DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(kTenantLockClass), key);
		else
			DirectFunctionCall2(pg_advisory_xact_lock_shared_int4, Int32GetDatum(kTenantLockClass), key);
	});
}

void lock_backup_writing(int64 id) {
	// Two backups whose ids agree in the low 32 bits share a key: harmless, backup_sync only
	// leaves more alone.
	int32 key = static_cast<int32>(static_cast<uint32>(id));
	pg_call([key] {
		DirectFunctionCall2(pg_advisory_xact_lock_shared_int4, Int32GetDatum(kBackupWriteLockClass),
		                    Int32GetDatum(key));
	});
}

bool backup_being_written(int64 id) {
	int32 key = static_cast<int32>(static_cast<uint32>(id));
	return pg_eval([key] {
		// A session-level probe, released at once: a writer holding the shared lock makes it fail.
		Datum k1 = Int32GetDatum(kBackupWriteLockClass), k2 = Int32GetDatum(key);
		if (!DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4, k1, k2)))
			return true;
		DirectFunctionCall2(pg_advisory_unlock_int4, k1, k2);
		return false;
	});
}

} // namespace tb::pg
