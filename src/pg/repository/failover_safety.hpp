// Copies that cannot survive a failover (issue 24.5). A repository whose objects only this
// machine reaches (Storage::node_local: the default $PGDATA/pg_tenant_backup, any directory on a
// local disk) loses every copy it holds when a standby is promoted in this server's place. While
// physical standbys stream from this server (pg_stat_replication), a backup none of whose stored
// copies is in a shared repository gets a WARNING, once per session (or scheduler) and
// repository, and backup_repository_check shows the repository as node_local. The recipes are in
// docs/STORAGE.md "High availability".
#pragma once
#include "core/storage/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

// Physical standbys streaming from this server now (pg_stat_replication; base backups and
// logical subscribers are not standbys).
int64_t attached_standbys();

struct StoredCopyReach {
	std::string repository, location;
	bool node_local;
};

// After a backup stored its copies (needs SPI): the WARNING above, if every stored copy is
// node-local and standbys are attached.
void warn_unless_failover_safe(int64_t backup_id, const std::vector<StoredCopyReach> &stored);

// backup_repository_check's finding: the repository is node-local while standbys are attached.
bool node_local_with_standbys(const Storage &storage);

} // namespace tb::pg
