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
// The tombstone beside a deleted backup's archive (docs/FORMAT.md "Tombstones").
std::string tombstone_name(const std::string &archive_name);
// Whether an object name is one of our records, key records or tombstones (never an archive).
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

// Removes every key record of the tenant under `prefixes` from every repository (at commit), and
// records each writable repository in tenant_backup.pending_key_removals, for backup_sync() to
// finish; returns one line per repository that could not be reached (or listed), empty when all were.
std::vector<std::string> forget_key_records(const std::string &tenant, const std::set<std::string> &prefixes);

// The callback of the repository steps below: one call per object written or failed.
using DescribeDone =
    std::function<void(std::optional<int64>, const char *action, const std::string &name, const std::string &error)>;

// backup_sync's step: the key records of forgotten tenants that forget_key_records could not
// remove here (tenant_backup.pending_key_removals: the repository out of reach, or a removal at
// commit that failed), removed now, each row deleted once it is done. Only key records of the
// tenant created before it was forgotten. One call of `done` per key record removed or failed.
void remove_forgotten_key_records(const std::string &repository, Storage &storage, const DescribeDone &done,
                                  const TransactionBreaks &breaks = {});

// Tombstones: what a deleted backup or a forgotten tenant leaves in the repositories, so that
// scan reports an archive and record put back as deleted or forgotten, and attach refuses it.
// The body of the tombstone of completed backup `id` (its row not deleted yet), whose archive is
// `object_name`; nullopt for a backup that has no record to outlive.
std::optional<std::string> backup_tombstone_body(int64 id, const std::string &object_name, const char *reason);
// Writes a tombstone in the caller's transaction (published at commit, removed if it aborts).
// Where storage is null or the write fails, it waits in tenant_backup.pending_tombstones for
// backup_sync(). Returns "" or why it waits.
std::string write_tombstone(const std::string &repository, const std::shared_ptr<Storage> &storage,
                            const std::string &name, const std::string &body);
// A forgotten tenant's tombstone under each of `prefixes` (key_record_prefixes), in every
// writable repository, covering the backups of the tenant that database took before now. Returns
// one line per repository where it waits for backup_sync().
std::vector<std::string> tombstone_tenant(const std::string &tenant, const std::set<std::string> &prefixes);
// backup_sync's step: the tombstones waiting for this repository.
void write_pending_tombstones(const std::string &repository, const std::shared_ptr<Storage> &storage,
                              const DescribeDone &done, const TransactionBreaks &breaks = {});

// Master key rotation in a repository (docs/ENCRYPTION.md "Rotation"): re-seals, under the
// current master key, every record and tombstone of this database (its own prefix and those of the
// databases it attached backups from) that is sealed under an older master key still configured,
// and re-wraps every such key record's data key (a new object name; the old object is removed once
// the new one is there). Each object is replaced whole (a rename, one PUT) at once, not at commit:
// at every moment each record is sealed under the old key or the new one, both configured during a
// rotation. Records that fail their check, or sealed under a key not configured, are left as they
// are (and reported). A pass is kept in tenant_backup.repository_reseal: begun (begin, by
// backup_rotate_master_key) or gone on with (backup_sync, the periodic sync) where it stopped,
// committing every hundred objects with breaks; finished when every object was handled.
struct ResealCounts {
	bool pass = false;     // a pass ran (begun, or one not finished yet)
	bool finished = false; // and it handled every object
	int64 resealed = 0, rewrapped = 0, left = 0, failed = 0;
	std::string first_error;
};
ResealCounts reseal_repository(const std::string &repository, Storage &storage, bool begin, const DescribeDone &done,
                               const TransactionBreaks &breaks = {});

// backup_rotate_master_key's step: a pass begun in every repository this database may write.
struct ResealSummary {
	int repositories = 0;
	int64 resealed = 0, rewrapped = 0, left = 0;
	std::vector<std::string> unfinished; // "repository: why", for backup_sync() to go on with
	std::vector<std::string> read_only;  // registered read-only: not touched
};
ResealSummary reseal_every_repository();

// One backup found in a repository.
struct FoundBackup {
	std::string object_name; // the archive's
	std::string state;       // known, unknown, damaged, keys_missing, deleted, forgotten, no_record
	std::string detail;      // why damaged, keys missing or without a record
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
// original id and source recorded. A backup with a tombstone (deleted, forgotten) is refused
// unless allow_deleted. One result per candidate.
std::vector<AttachedBackup> attach_backups(const std::string &repository, const std::string &tenant,
                                           const std::string &object_name, bool trust_unauthenticated,
                                           const std::string &source_database, bool allow_deleted);

} // namespace tb::pg
