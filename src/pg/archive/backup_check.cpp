// Verifying a backup (backup_verify, and the scheduler after each automatic backup): the
// archive's SHA-256 and size, then every chunk (authenticated, decrypted, decompressed), every row
// decoded with its column's binary receive function as recorded in the archive, and row counts
// against the catalog. A damaged archive is an outcome, not an error.
#include "pg/archive/backup_check.hpp"

#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/error.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/archive_rows.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/repository/registry.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/permissions.hpp"

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

// The checks proper, of one copy whose checksum passed. Throws on the first problem; `where`
// names the table being read.
void check_rows(const StoredBackup &backup, Storage &storage, const std::string &object_name, VerifyOutcome &out,
                std::string &where) {
	std::map<std::string, int64> expected = catalog_row_counts(backup.id);
	tb::archive::ArchiveReader reader(storage.open_read(object_name), reader_options(backup));
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

// The first healthy copy (open_checked_copy: its checksum), then its rows.
void check_archive(const StoredBackup &backup, VerifyOutcome &out, std::string &where) {
	CheckedCopy copy = open_checked_copy(backup, "the backup cannot be restored");
	check_rows(backup, *copy.storage, copy.object_name, out, where);
}

void record_copy_verified(int64 id, const std::string &repository) {
	AsExtensionOwner owner; // the catalog is the extension's own
	spi_query("UPDATE tenant_backup.backup_copies SET verified_at = clock_timestamp() "
	          "WHERE backup_id = $1::bigint AND repository = $2",
	          {std::to_string(id), repository});
}

} // namespace

void record_verify_outcome(int64 id, const VerifyOutcome &out) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams outcome = SqlParams().int8(id).text(std::string(out.ok ? "ok" : "failed"));
	outcome.text(out.ok ? std::nullopt : SqlValue(out.error));
	pg_call([&] {
		spi_run("UPDATE tenant_backup.backups SET verified_at = clock_timestamp(), verify_status = $2, "
		        "verify_error = $3 WHERE id = $1",
		        outcome, false, SPI_OK_UPDATE);
	});
}

VerifyOutcome verify_backup(const StoredBackup &backup) {
	// A receive function that rejects a value raises a PostgreSQL error: run the checks in a
	// subtransaction so that such an error can be rolled back and recorded as the outcome.
	VerifyOutcome out;
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
	return out;
}

CopiesOutcome verify_every_copy(const StoredBackup &backup) {
	CopiesOutcome result;
	std::vector<BackupCopy> copies = readable_copies(backup);
	if (copies.empty()) {
		result.outcome.error = "backup " + std::to_string(backup.id) + " has no stored copy";
		result.verdict = true;
		record_verify_outcome(backup.id, result.outcome);
		return result;
	}
	bool any_ok = false, any_unreachable = false;
	std::string problems;
	for (const BackupCopy &c : copies) {
		StoredBackup copy = backup;
		copy.object_name = c.object_name;
		VerifyOutcome one;
		std::string where;
		// Each copy on its own, in a subtransaction: a receive function that rejects a value
		// raises a PostgreSQL error, rolled back here and judged below (a cancel is rethrown).
		std::exception_ptr failure = in_subtransaction([&] {
			std::shared_ptr<Storage> storage = open_storage(c.repository);
			check_stored_archive(*storage, copy, "the copy is damaged");
			check_rows(copy, *storage, copy.object_name, one, where);
		});
		CopyCheck check{c.repository, CopyCheck::Verdict::Ok, ""};
		if (!failure) {
			record_copy_verified(backup.id, c.repository);
			if (!any_ok)
				result.outcome = one;
			any_ok = true;
		} else {
			std::string reason;
			if (archive_damage(failure, reason)) {
				check.verdict = CopyCheck::Verdict::Damaged;
				check.error = (where.empty() ? "" : where + ": ") + reason;
				// Absent or altered for good: readers skip it from now on, and backup_sync()
				// stores it again from a healthy copy.
				mark_copy_missing(backup.id, c.repository, "verification: " + check.error);
			} else if (std::optional<CopyFailure> out_of_reach = copy_failure(failure)) {
				check.verdict = CopyCheck::Verdict::Unreachable; // an endpoint down: no verdict on it
				check.error = out_of_reach->message;
				any_unreachable = true;
			} else {
				std::rethrow_exception(failure); // a missing key, a PostgreSQL error: not the copy's
			}
			problems += (problems.empty() ? "" : "; ") + c.repository + ": " + check.error;
		}
		result.copies.push_back(std::move(check));
	}
	result.outcome.ok = any_ok;
	if (!any_ok)
		result.outcome = VerifyOutcome{false, 0, 0, problems};
	// A verdict when a copy was read whole, or every copy was found damaged; not when the only
	// copies left could not be reached.
	result.verdict = any_ok || !any_unreachable;
	if (result.verdict)
		record_verify_outcome(backup.id, result.outcome);
	return result;
}

void put_outcome_row(FunctionCallInfo fcinfo, const VerifyOutcome &out) {
	const char *error = out.error.c_str();
	pg_call([&] {
		auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
		Datum values[4] = {BoolGetDatum(out.ok), Int32GetDatum(out.tables), Int64GetDatum(out.rows),
		                   out.ok ? 0 : CStringGetTextDatum(error)};
		bool nulls[4] = {false, false, false, out.ok};
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	});
}

} // namespace tb::pg
