#include "pg/repository/archive_names.hpp"

#include "core/storage/local/local_storage.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"

extern "C" {
#include "access/xlog.h"
#include "common/pg_prng.h"
#include "utils/backend_status.h"
}

#include <cstdlib>
#include <optional>

namespace tb::pg {

namespace {

std::string cluster_prefix() {
	uint64 sysid = pg_eval([] { return GetSystemIdentifier(); });
	return std::to_string(sysid) + "/";
}

std::string tag_prefix() {
	return "s" + std::to_string(pg_eval([] { return GetSystemIdentifier(); })) + "p";
}

} // namespace

std::unique_ptr<Storage> open_repository() {
	std::string dir = setting_repository();
	if (dir.empty() || dir[0] != '/')
		dir = std::string(pg_eval([] { return (const char *)DataDir; })) + "/" + dir;
	return std::make_unique<LocalStorage>(dir);
}

std::string new_archive_name(int64_t backup_id) {
	uint64 random = pg_eval([] { return pg_prng_uint64(&pg_global_prng_state); });
	char suffix[17];
	snprintf(suffix, sizeof(suffix), "%016llx", static_cast<unsigned long long>(random));
	return archive_name_prefix(backup_id) + suffix + ".tbk";
}

std::string database_prefix() {
	Oid db = pg_eval([] { return MyDatabaseId; });
	return cluster_prefix() + std::to_string(db) + "/";
}

std::string archive_name_prefix(int64_t backup_id) {
	return database_prefix() + std::to_string(backup_id) + "-";
}

std::optional<int64_t> backup_id_of_archive(const std::string &name) {
	// "<database prefix><id>-<16 hex digits>.tbk"
	std::string prefix = database_prefix();
	const size_t suffix = 1 + 16 + 4;
	if (name.compare(0, prefix.size(), prefix) != 0 || name.size() <= prefix.size() + suffix)
		return std::nullopt;
	std::string id = name.substr(prefix.size(), name.size() - prefix.size() - suffix);
	std::string tail = name.substr(name.size() - suffix);
	if (id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos || tail[0] != '-' ||
	    tail.compare(17, 4, ".tbk") != 0 || tail.find_first_not_of("0123456789abcdef", 1) != 17)
		return std::nullopt;
	return std::stoll(id);
}

std::string temporary_tag() {
	// The backend's start time too: a pid alone may be reused by another backend after a crash.
	return tag_prefix() + std::to_string(pg_eval([] { return MyProcPid; })) + "t" +
	       std::to_string(pg_eval([] { return MyStartTimestamp; }));
}

namespace {

// Whether the backend that wrote a temporary object (its pid, and its start time when the tag
// has one) still runs. Read after the objects were listed: whoever wrote one was running then.
bool writer_alive(int pid, std::optional<int64_t> started) {
	if (pid == pg_eval([] { return MyProcPid; }))
		return !started || *started == pg_eval([] { return MyStartTimestamp; });
	if (!pg_eval([pid] { return BackendPidGetProc(pid) != nullptr; }))
		return false;
	if (!started)
		return true;
	bool same = true; // unknown start time: assume the writer
	pg_call([&] {
		pgstat_clear_backend_activity_snapshot(); // a fresh snapshot, taken after the listing
		for (int i = 1; i <= pgstat_fetch_stat_numbackends(); i++) {
			PgBackendStatus *status = pgstat_fetch_stat_beentry(i);
			if (status && status->st_procpid == pid)
				same = status->st_proc_start_timestamp == *started;
		}
	});
	return same;
}

} // namespace

int remove_stale_temporaries(Storage &storage) {
	std::string prefix = tag_prefix();
	int removed = 0;
	for (const auto &tmp : storage.list_temporaries()) {
		if (tmp.tag.compare(0, prefix.size(), prefix) != 0)
			continue; // another cluster's, or not ours at all
		const char *rest = tmp.tag.c_str() + prefix.size();
		char *end = nullptr;
		int pid = static_cast<int>(std::strtol(rest, &end, 10));
		std::optional<int64_t> started;
		if (*end == 't')
			started = std::strtoll(end + 1, nullptr, 10);
		if (!writer_alive(pid, started) && storage.remove(tmp.name))
			removed++;
	}
	return removed;
}

} // namespace tb::pg
