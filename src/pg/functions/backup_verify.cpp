// tenant_backup.backup_verify(backup_id bigint)
//   RETURNS TABLE (ok boolean, tables integer, rows bigint, error text)
//
// Checks a backup without restoring it: the archive's SHA-256 and size, then every chunk
// (authenticated, decrypted, decompressed), every row decoded with its column's binary receive
// function as recorded in the archive, and row counts against the catalog. The outcome is
// recorded in backups.verified_at / verify_status / verify_error and returned; a damaged archive
// is an outcome, not an error.
#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/error.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/archive_rows.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"

#include <map>

namespace tb::pg {

namespace {

// Decodes every field of every row the way COPY FROM (FORMAT binary) would; returns the row count.
uint64 decode_rows(tb::archive::ArchiveReader &reader, const tb::archive::TableHeader &table) {
	ArchiveRowDecoder rows(reader, table);
	while (rows.next()) {
	}
	return rows.rows();
}

std::map<std::string, int64> catalog_row_counts(int64 id) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams of_backup = SqlParams().int8(id);
	uint64 n = pg_eval([&] {
		return spi_run("SELECT (t->>'schema') || '.' || (t->>'name'), (t->>'rows')::bigint "
		               "FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t WHERE b.id = $1",
		               of_backup, true, SPI_OK_SELECT);
	});
	std::map<std::string, int64> counts;
	for (uint64 r = 0; r < n; r++) {
		char *name = nullptr;
		int64 rows = 0;
		pg_call([&] {
			bool isnull;
			name = spi_text(r, 1);
			rows = DatumGetInt64(spi_datum(r, 2, &isnull));
		});
		counts[name] = rows;
	}
	return counts;
}

// Whether an exception says the archive is damaged (and why), as opposed to an error of the
// environment: missing keys, cancels, I/O errors, out of memory.
bool archive_damage(std::exception_ptr error, std::string &reason) {
	try {
		std::rethrow_exception(error);
	} catch (const tb::Error &e) {
		reason = e.what();
		return e.kind() == tb::ErrorKind::Corrupt || e.kind() == tb::ErrorKind::NotFound;
	} catch (const SqlError &e) {
		reason = e.what();
		return e.sqlstate() == ERRCODE_DATA_CORRUPTED || e.sqlstate() == ERRCODE_UNDEFINED_FILE;
	} catch (const PgError &e) {
		reason = e.what();
		int code = e.edata()->sqlerrcode;
		return code == ERRCODE_DATA_CORRUPTED || code == ERRCODE_INVALID_BINARY_REPRESENTATION ||
		       code == ERRCODE_INVALID_TEXT_REPRESENTATION || code == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE ||
		       code == ERRCODE_DATETIME_VALUE_OUT_OF_RANGE || code == ERRCODE_CHARACTER_NOT_IN_REPERTOIRE ||
		       code == ERRCODE_UNTRANSLATABLE_CHARACTER;
	} catch (...) {
		return false;
	}
}

struct Outcome {
	bool ok = false;
	int32 tables = 0;
	int64 rows = 0;
	std::string error;
};

// The checks proper. Throws on the first problem; `where` names the table being read.
void check_archive(const StoredBackup &backup, Outcome &out, std::string &where) {
	CheckedCopy copy = open_checked_copy(backup, "the backup cannot be restored");
	std::map<std::string, int64> expected = catalog_row_counts(backup.id);
	tb::archive::ArchiveReader reader(copy.storage->open_read(copy.object_name), reader_options(backup));
	while (std::optional<tb::archive::TableHeader> table = reader.next_table()) {
		std::string name = table->schema + "." + table->name;
		where = "table " + name;
		uint64 decoded = decode_rows(reader, *table);
		if (decoded != reader.table_rows())
			throw tb::Error(tb::ErrorKind::Corrupt, "holds " + std::to_string(decoded) + " rows, its section records " +
			                                            std::to_string(reader.table_rows()));
		auto it = expected.find(name);
		if (it == expected.end() || it->second != static_cast<int64>(decoded))
			throw tb::Error(tb::ErrorKind::Corrupt,
			                "holds " + std::to_string(decoded) + " rows, the catalog records " +
			                    (it == expected.end() ? "no such table" : std::to_string(it->second)));
		out.tables++;
		out.rows += static_cast<int64>(decoded);
		where = "chunk " + std::to_string(reader.chunk_index());
	}
	where = "trailer";
	if (static_cast<size_t>(out.tables) != expected.size())
		throw tb::Error(tb::ErrorKind::Corrupt, "the archive holds " + std::to_string(out.tables) +
		                                            " tables, the catalog records " + std::to_string(expected.size()));
}

void record_outcome(int64 id, const Outcome &out) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams outcome = SqlParams().int8(id).text(std::string(out.ok ? "ok" : "failed"));
	outcome.text(out.ok ? std::nullopt : SqlValue(out.error));
	pg_call([&] {
		spi_run("UPDATE tenant_backup.backups SET verified_at = clock_timestamp(), verify_status = $2, "
		        "verify_error = $3 WHERE id = $1",
		        outcome, false, SPI_OK_UPDATE);
	});
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_verify) {
	AuditedAction audit("verify"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	// Held by the tenant's shared lock, not a row lock: verify works in a read-only transaction.
	StoredBackup backup = authorize_backup(id, "verified", "backup.view", audit, BackupHold::Reading);

	// A receive function that rejects a value raises a PostgreSQL error: run the checks in a
	// subtransaction so that such an error can be rolled back and recorded as the outcome.
	Outcome out;
	std::string where;
	std::exception_ptr failure = in_subtransaction([&] { check_archive(backup, out, where); });
	out.ok = !failure;
	if (failure) {
		// Only damage to the archive is a verdict on it; a missing key, a timeout, a full disk
		// or a lock wait is an error of this call, not of the backup.
		std::string reason;
		if (!archive_damage(failure, reason))
			std::rethrow_exception(failure);
		out.error = (where.empty() ? "" : where + ": ") + reason;
	}
	// Recording the outcome is a write: in a read-only transaction (or on a standby) the verdict
	// is only returned.
	if (bool standby = on_standby(); standby || pg_eval([] { return XactReadOnly; }))
		pg_call([id, standby] {
			ereport(NOTICE,
			        (errmsg("the outcome of verifying backup %lld was not recorded: %s", static_cast<long long>(id),
			                standby ? "the server is a hot standby" : "the transaction is read-only"),
			         standby ? errhint("It is returned here only; verify on the primary to record it.") : 0));
		});
	else
		record_outcome(id, out);
	// What the archive holds was read: recorded even if the caller's transaction rolls back.
	audit.ok_independently(out.ok ? "" : "verification failed: " + out.error);
	spi_end();
	const char *error = out.error.c_str();
	pg_call([&] {
		auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
		Datum values[4] = {BoolGetDatum(out.ok), Int32GetDatum(out.tables), Int64GetDatum(out.rows),
		                   out.ok ? 0 : CStringGetTextDatum(error)};
		bool nulls[4] = {false, false, false, out.ok};
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	});
	return 0;
}
