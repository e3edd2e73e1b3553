#include "pg/repository/failover_safety.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>
#include <set>

namespace tb::pg {

namespace {

std::set<std::string> warned; // repositories this process has warned about

} // namespace

int64_t attached_standbys() {
	// A physical walsender has no database (datid NULL); a base backup's is in state 'backup'.
	auto rows = spi_query("SELECT count(*) FROM pg_catalog.pg_stat_replication r "
	                      "JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) r.pid "
	                      "WHERE a.datid IS NULL AND r.state OPERATOR(pg_catalog.<>) 'backup'",
	                      {}, true);
	return std::stoll(*rows.at(0).at(0));
}

void warn_unless_failover_safe(int64_t backup_id, const std::vector<StoredCopyReach> &stored) {
	if (stored.empty() || std::any_of(stored.begin(), stored.end(), [](const auto &c) { return !c.node_local; }))
		return;
	const StoredCopyReach &primary = stored.front();
	if (warned.count(primary.repository))
		return;
	int64_t standbys = attached_standbys();
	if (standbys == 0)
		return;
	warned.insert(primary.repository);
	std::string message = "backup " + std::to_string(backup_id) +
	                      " has no copy that survives a failover: repository \"" + primary.repository + "\" (" +
	                      primary.location + ") is on this node only, and " + std::to_string(standbys) +
	                      (standbys == 1 ? " standby is" : " standbys are") + " attached";
	const char *m = message.c_str();
	pg_call([m] {
		ereport(WARNING,
		        (errmsg("%s", m),
		         errdetail("A standby promoted in this server's place will list the backup but not find its archive."),
		         errhint("Put the primary copy on a shared filesystem or in S3, or add an S3 repository to "
		                 "tenant_backup.repositories (docs/STORAGE.md \"High availability\"). Said once per session "
		                 "and repository.")));
	});
}

bool node_local_with_standbys(const Storage &storage) {
	return storage.node_local() && attached_standbys() > 0;
}

} // namespace tb::pg
