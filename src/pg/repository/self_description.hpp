// Self-describing repositories (docs/FORMAT.md "Repository records"): beside every archive, its
// catalog record (<archive>.record), and for every tenant data key the archive needs, the key
// wrapped under the master key (<database prefix>keys/<catalog id>/<generation>-<master key id>.key),
// each authenticated with an HMAC-SHA256 under a key derived from the master key. With nothing but
// a repository and the master key, backup_repository_scan lists what it holds and backup_attach
// brings it into a catalog. Needs SPI connected.
#pragma once
#include "core/storage/storage.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/repository/repository_survey.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tb::pg {

// The record object beside an archive.
std::string record_name(const std::string &archive_name);
// Whether an object name is one of our records or key records (never an archive).
bool is_description_object(const std::string &name);

// Writes the record of completed backup `id` beside each of its stored copies, and its tenant's key
// record, in the caller's transaction (published at commit, or removed at abort). A copy that
// cannot be described is a WARNING: backup_sync() writes what is missing later.
void describe_backup(int64 id);

// Writes the record (and key record) of a copy backup_sync has just stored in `storage`.
void describe_stored_copy(int64 id, const std::string &object_name, const std::shared_ptr<Storage> &storage);

// backup_sync's step: in one repository, writes the records of stored copies that have none and the
// key records of every tenant key that has none; one call of `done` per object written or failed.
// With breaks (the sync worker), in short transactions: the copies read 5,000 at a time, the
// repository listed outside any transaction, a commit after every hundred records or key records written.
void describe_repository(const std::string &repository, Storage &storage,
                         const std::function<void(std::optional<int64>, const char *action, const std::string &name,
                                                  const std::string &error)> &done,
                         const TransactionBreaks &breaks = {});

// Where the tenant's key records that this catalog answers for are: its database's own prefix,
// and those of the databases it attached the tenant's backups from (read before the backups are
// forgotten). Never another database's keys of a tenant that merely has the same name.
std::set<std::string> key_record_prefixes(const std::string &tenant);

// Removes every key record of the tenant under `prefixes` from every repository; returns one
// line per repository that could not be reached (or listed), empty when all were.
std::vector<std::string> forget_key_records(const std::string &tenant, const std::set<std::string> &prefixes);

// One backup found in a repository.
struct FoundBackup {
	std::string object_name; // the archive's
	std::string state;       // known, unknown, damaged, keys_missing
	std::string detail;      // why damaged or keys missing
	bool authenticated = false;
	std::optional<int64> original_id, local_id, size_bytes;
	std::string tenant, kind, label, snapshot_at, source, source_database;
	bool encrypted = false;
};

// Everything the repository holds that is described by a record. Changes nothing.
std::vector<FoundBackup> scan_repository(const std::string &repository);

struct AttachedBackup {
	FoundBackup found;
	std::optional<int64> backup_id; // the new local id
	std::string outcome;            // attached, already_known, refused
	std::string detail;
};

// Adds the backups found in the repository to this catalog: those of `tenant` (all when empty),
// of the database named `source_database` (any when empty), or the one whose archive is
// `object_name`. Each one's record is authenticated (unless
// trust_unauthenticated, for records written without a master key), its archive checksummed in
// full, its key unwrapped and re-wrapped locally; then it gets a new id of this database, its
// original id and source recorded. One result per candidate.
std::vector<AttachedBackup> attach_backups(const std::string &repository, const std::string &tenant,
                                           const std::string &object_name, bool trust_unauthenticated,
                                           const std::string &source_database);

} // namespace tb::pg
