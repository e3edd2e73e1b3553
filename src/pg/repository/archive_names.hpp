// The local repository as configured by tenant_backup.repository, and archive naming: archives of
// this cluster and database live under "<system identifier>/<database oid>/"; names come from the
// backup id and random bytes only, never from user input.
#pragma once
#include "core/storage/storage.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace tb::pg {

std::unique_ptr<Storage> open_repository();
std::string new_archive_name(int64_t backup_id);
// What every archive name of this database starts with: "<system identifier>/<database oid>/".
std::string database_prefix();
// What every archive name of this backup starts with (to find an unfinished backup's leftovers).
std::string archive_name_prefix(int64_t backup_id);
// The backup id an archive name of this database was made for (see new_archive_name), or nullopt
// for a name that is not one.
std::optional<int64_t> backup_id_of_archive(const std::string &name);
// The tag of this backend's temporary objects: the cluster, the pid and the backend's start time.
std::string temporary_tag();
// Removes temporary objects left by backends of this cluster that no longer exist (a crash or a
// kill -9 in the middle of a backup), also when their pid now belongs to another backend.
// Returns how many were removed.
int remove_stale_temporaries(Storage &storage);

} // namespace tb::pg
