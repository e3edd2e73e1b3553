// tenant_backup.backup_sync(): the repair of repository/sync.hpp, one row per action taken.
// tenant_backup.backup_repository_check(name): reports what a repository holds that a sync would
// mark missing or remove, changing nothing. Superusers only.
#include "pg/repository/sync.hpp"

#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/failover_safety.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/repository/registry.hpp"
#include "pg/repository/repository_survey.hpp"

using namespace tb::pg;

// backup_sync() RETURNS TABLE (backup_id bigint, repository text, action text, object_name text,
// ok boolean, error text)
TB_SQL_FUNCTION(backup_sync) {
	refuse_on_standby("backup_sync");
	AuditedAction audit("sync");
	spi_begin();
	require_superuser("sync", "synchronize repositories");
	SrfRows out(fcinfo);
	SyncSummary summary = synchronize_repositories([&](const SyncRow &r) {
		out.add({r.backup_id ? SqlValue(std::to_string(*r.backup_id)) : std::nullopt, r.repository,
		         std::string(r.action), r.object_name.empty() ? std::nullopt : SqlValue(r.object_name),
		         std::string(r.error.empty() ? "t" : "f"), r.error.empty() ? std::nullopt : SqlValue(r.error)});
	});
	audit.ok(summary.text());
	spi_end();
	return 0;
}

// backup_repository_check(name text) RETURNS TABLE (problem text, object_name text, backup_id bigint,
// size_bytes bigint)
TB_SQL_FUNCTION(backup_repository_check) {
	AuditedAction audit("repository_check"); // first: a refused argument is a failed attempt too
	spi_begin();
	require_superuser("repository_check", "check a repository");
	std::string name = required_text_arg(fcinfo, 0, "name", 1024);
	SrfRows out(fcinfo);
	std::shared_ptr<tb::Storage> storage = open_storage(name);
	std::vector<SurveyFinding> findings = survey_repository(name, *storage);
	for (const SurveyFinding &f : findings)
		out.add({std::string(f.kind_name()), f.object_name,
		         f.backup_id ? SqlValue(std::to_string(*f.backup_id)) : std::nullopt,
		         f.size ? SqlValue(std::to_string(*f.size)) : std::nullopt});
	size_t problems = findings.size();
	if (node_local_with_standbys(*storage)) { // its copies would not survive a failover
		out.add({std::string("node_local"), storage->describe(""), std::nullopt, std::nullopt});
		problems++;
	}
	audit.ok(name + ": " + std::to_string(problems) + " problem(s)");
	spi_end();
	return 0;
}
