// tenant_backup.backup_repository_add(name, url, options), backup_repository_remove(name),
// backup_repositories(): managing the named repositories of repository/registry.hpp.
#include "pg/repository/registry.hpp"

#include "core/error.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/permissions.hpp"

#include <algorithm>

using namespace tb::pg;

namespace {

std::string jsonb_text(Datum value) {
	return pg_eval([&] { return static_cast<const char *>(DatumGetCString(DirectFunctionCall1(jsonb_out, value))); });
}

// A repository's options as given (a JSON object of strings, numbers and booleans), as key and
// text value; a key that looks like a credential keeps an empty value (check_repository refuses
// it without echoing the value).
RepositoryOptions parse_options(const std::string &options_json) {
	RepositoryOptions options;
	AsExtensionOwner owner;
	auto type = spi_query("SELECT jsonb_typeof($1::jsonb)", {options_json}, true);
	if (!type[0][0] || *type[0][0] != "object")
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "options must be a JSON object");
	for (const auto &o : spi_query("SELECT key, jsonb_typeof(value), value #>> '{}' FROM jsonb_each($1::jsonb) "
	                               "ORDER BY key",
	                               {options_json}, true)) {
		const std::string &type_name = *o[1];
		if (option_looks_secret(*o[0]))
			options.emplace_back(*o[0], ""); // refused by check_repository, value never echoed
		else if (type_name != "string" && type_name != "number" && type_name != "boolean")
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "option \"" + *o[0] + "\" must be a string, a number or a boolean");
		else
			options.emplace_back(*o[0], o[2].value_or(""));
	}
	return options;
}

} // namespace

// backup_repository_add(name text, url text, options jsonb DEFAULT '{}') RETURNS void
TB_SQL_FUNCTION(backup_repository_add) {
	refuse_on_standby("backup_repository_add");
	AuditedAction audit("repository_add");
	spi_begin();
	require_superuser("repository_add", "add a repository");
	std::string name = required_text_arg(fcinfo, 0, "name", 1024);
	std::string url = required_text_arg(fcinfo, 1, "url", 1024);
	if (!valid_repository_name(name))
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "invalid repository name \"" + name + "\"",
		               "A name is made of lower-case letters, digits and underscores, starts with a letter and has "
		               "at most 63 characters.");
	if (name == kLocalRepository)
		throw SqlError(ERRCODE_DUPLICATE_OBJECT, "repository \"local\" is built in",
		               "It is the directory of tenant_backup.repository.");
	std::string options_json = "{}";
	if (!PG_ARGISNULL(2))
		options_json = jsonb_text(PG_GETARG_DATUM(2));
	RepositoryOptions options = parse_options(options_json);
	check_repository(url, options);
	{
		AsExtensionOwner owner;
		if (!spi_query("SELECT 1 FROM tenant_backup.repositories WHERE name = $1", {name}).empty())
			throw SqlError(ERRCODE_DUPLICATE_OBJECT, "repository \"" + name + "\" already exists", "",
			               "Remove it first with tenant_backup.backup_repository_remove().");
		spi_query("INSERT INTO tenant_backup.repositories (name, url, options) VALUES ($1, $2, $3::jsonb)",
		          {name, url, options_json});
	}
	audit.ok(name + " " + url);
	spi_end();
	PG_RETURN_VOID();
}

// backup_repository_remove(name text) RETURNS boolean: false if there was no such repository.
TB_SQL_FUNCTION(backup_repository_remove) {
	refuse_on_standby("backup_repository_remove");
	AuditedAction audit("repository_remove");
	spi_begin();
	require_superuser("repository_remove", "remove a repository");
	std::string name = required_text_arg(fcinfo, 0, "name", 1024);
	if (name == kLocalRepository)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "repository \"local\" is built in and cannot be removed");
	{
		AsExtensionOwner owner;
		// Locked first: a backup that opens it now waits (open_storage), one that did is counted.
		if (spi_query("SELECT 1 FROM tenant_backup.repositories WHERE name = $1 FOR UPDATE", {name}).empty()) {
			audit.ok(name + " (no such repository)");
			spi_end();
			return BoolGetDatum(false);
		}
		auto stored = spi_query("SELECT count(*) FROM tenant_backup.backup_copies WHERE repository = $1 "
		                        "AND state = 'stored'",
		                        {name});
		if (*stored[0][0] != "0")
			throw SqlError(ERRCODE_OBJECT_IN_USE,
			               "repository \"" + name + "\" holds " + *stored[0][0] + " stored cop" +
			                   (*stored[0][0] == "1" ? "y" : "ies") + " of backups",
			               "", "Delete those backups first (tenant_backup.backup_delete), or keep the repository.");
		auto schedules = spi_query("SELECT coalesce(tenant, '(default)') FROM tenant_backup.schedules "
		                           "WHERE $1 = ANY (string_to_array(repositories, ',')) ORDER BY tenant NULLS FIRST",
		                           {name});
		if (!schedules.empty())
			throw SqlError(
			    ERRCODE_OBJECT_IN_USE,
			    "repository \"" + name + "\" is named by the schedule of tenant \"" + *schedules[0][0] + "\"" +
			        (schedules.size() > 1 ? " and " + std::to_string(schedules.size() - 1) + " more" : ""),
			    "", "Change those schedules first (tenant_backup.backup_schedule_set(..., repositories => ...)).");
		spi_query("DELETE FROM tenant_backup.backup_copies WHERE repository = $1", {name});
		spi_query("DELETE FROM tenant_backup.removed_objects WHERE repository = $1", {name});
		spi_query("DELETE FROM tenant_backup.pending_key_removals WHERE repository = $1", {name});
		spi_query("DELETE FROM tenant_backup.repositories WHERE name = $1", {name});
	}
	std::vector<std::string> layers = configured_repositories();
	if (std::find(layers.begin(), layers.end(), name) != layers.end()) {
		warn("repository \"" + name + "\" is still listed in tenant_backup.repositories",
		     "Until it is taken out of the setting, every new backup records its copy there as missing.");
	}
	audit.ok(name);
	spi_end();
	return BoolGetDatum(true);
}

// backup_repository_alter(name text, url text DEFAULT NULL, options jsonb DEFAULT NULL, read_only
// boolean DEFAULT NULL) RETURNS void: a repository moved (another bucket, prefix, endpoint or
// directory), or made read-only or writable again. Copies are recorded by repository and object
// name, so every reader finds them at the new URL; the stored locations (display only) are brought
// up to it here.
TB_SQL_FUNCTION(backup_repository_alter) {
	refuse_on_standby("backup_repository_alter");
	AuditedAction audit("repository_alter");
	spi_begin();
	require_superuser("repository_alter", "alter a repository");
	std::string name = required_text_arg(fcinfo, 0, "name", 1024);
	if (name == kLocalRepository)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "repository \"local\" is built in and cannot be altered", "",
		               "It is the directory of tenant_backup.repository: move the directory and change the "
		               "setting (ALTER SYSTEM SET tenant_backup.repository = '...'; SELECT pg_reload_conf()).");
	std::optional<std::string> new_url = bounded_text_arg(fcinfo, 1, "url", 1024, false);
	std::optional<std::string> new_options;
	if (!PG_ARGISNULL(2))
		new_options = jsonb_text(PG_GETARG_DATUM(2));
	std::optional<bool> new_read_only;
	if (!PG_ARGISNULL(3))
		new_read_only = PG_GETARG_BOOL(3);
	std::string url, options_json;
	{
		AsExtensionOwner owner;
		// FOR UPDATE: waits for the backups storing copies there now (they hold it FOR KEY SHARE,
		// open_storage), so that no copy is written to the old URL and recorded at the new one.
		auto row =
		    spi_query("SELECT url, options::text FROM tenant_backup.repositories WHERE name = $1 FOR UPDATE", {name});
		if (row.empty())
			throw SqlError(ERRCODE_UNDEFINED_OBJECT, "repository \"" + name + "\" does not exist", "",
			               "tenant_backup.backup_repositories() lists the repositories.");
		url = new_url.value_or(*row[0][0]);
		std::string old_options = *row[0][1];
		// New options replace the old ones whole, but read_only stays unless given anew.
		options_json = *spi_query(
		    "SELECT CASE WHEN $2::jsonb IS NULL THEN $1::jsonb "
		    "  WHEN jsonb_typeof($2::jsonb) <> 'object' THEN $2::jsonb "
		    "  WHEN $2::jsonb ? 'read_only' OR NOT $1::jsonb ? 'read_only' THEN $2::jsonb "
		    "  ELSE $2::jsonb || jsonb_build_object('read_only', $1::jsonb -> 'read_only') END "
		    "  || CASE WHEN $3::boolean IS NULL THEN '{}'::jsonb "
		    "          ELSE jsonb_build_object('read_only', $3::boolean) END",
		    {old_options, new_options, new_read_only ? SqlValue(*new_read_only ? "true" : "false") : std::nullopt},
		    true)[0][0];
	}
	RepositoryOptions options = parse_options(options_json);
	check_repository(url, options);
	bool was_read_only = repository_read_only(name);
	{
		AsExtensionOwner owner;
		spi_query("UPDATE tenant_backup.repositories SET url = $2, options = $3::jsonb WHERE name = $1",
		          {name, url, options_json});
	}
	// Where the copies are now, for display (backup_list derives it anyway); and a word when the
	// new URL does not hold the newest stored copy (a move not finished, a typing error).
	std::string base, missing;
	std::string error = error_of([&] {
		// (at the new URL: open_storage reads the row under this statement's snapshot, the old one)
		std::shared_ptr<tb::Storage> storage = open_storage_at(url, options);
		base = storage->describe("x");
		base.pop_back();
		std::vector<SqlRow> newest;
		{
			AsExtensionOwner owner;
			newest = spi_query("SELECT c.object_name, c.backup_id FROM tenant_backup.backup_copies c "
			                   "WHERE c.repository = $1 AND c.state = 'stored' ORDER BY c.backup_id DESC LIMIT 1",
			                   {name});
		}
		if (!newest.empty() && !storage->exists(*newest[0][0]))
			missing = "its newest stored copy, of backup " + *newest[0][1] + " (" + *newest[0][0] + "), is not there";
	});
	if (!base.empty()) {
		AsExtensionOwner owner;
		spi_query("UPDATE tenant_backup.backup_copies SET location = $2 || object_name WHERE repository = $1 "
		          "AND location IS DISTINCT FROM $2 || object_name",
		          {name, base});
		spi_query("UPDATE tenant_backup.backups SET location = $2 || object_name WHERE repository = $1 "
		          "AND object_name IS NOT NULL AND location IS DISTINCT FROM $2 || object_name",
		          {name, base});
	}
	if (!error.empty())
		missing = "it cannot be reached: " + error;
	if (!missing.empty())
		warn("repository \"" + name + "\" does not hold its copies at " + (new_url ? "the new URL" : "its URL"),
		     "At " + url + ", " + missing +
		         ". The copies stay recorded as stored; tenant_backup.backup_sync() would record those it does not "
		         "find there as missing. Finish moving the objects, or alter the URL back.");
	bool now_read_only = read_only_option(options);
	std::vector<std::string> layers = configured_repositories();
	if (now_read_only && !was_read_only && std::find(layers.begin(), layers.end(), name) != layers.end())
		warn("repository \"" + name + "\" is read-only now but still listed in tenant_backup.repositories",
		     "Until it is taken out of the setting, every new backup records its copy there as missing.");
	audit.ok(name + " " + url + (now_read_only ? " (read-only)" : ""));
	spi_end();
	PG_RETURN_VOID();
}

// backup_repositories() RETURNS TABLE (name, url, options, layer, stored_copies, missing_copies, created_at)
TB_SQL_FUNCTION(backup_repositories) {
	spi_begin();
	require_superuser("repositories", "list repositories");
	SrfRows out(fcinfo);
	std::vector<std::string> layers = configured_repositories();
	auto layer_of = [&](const std::string &name) -> SqlValue {
		auto it = std::find(layers.begin(), layers.end(), name);
		return it == layers.end() ? std::nullopt : SqlValue(std::to_string(it - layers.begin() + 1));
	};
	AsExtensionOwner owner;
	auto count = [](const std::string &name, const char *state) {
		return *spi_query("SELECT count(*) FROM tenant_backup.backup_copies WHERE repository = $1 AND state = $2",
		                  {name, std::string(state)}, true)[0][0];
	};
	out.add({std::string(kLocalRepository), local_repository_url(), std::string("{}"), layer_of(kLocalRepository),
	         count(kLocalRepository, "stored"), count(kLocalRepository, "missing"), std::nullopt});
	for (const auto &r : spi_query("SELECT name, url, options::text, created_at::text FROM tenant_backup.repositories "
	                               "ORDER BY name",
	                               {}, true))
		out.add({r[0], r[1], r[2], layer_of(*r[0]), count(*r[0], "stored"), count(*r[0], "missing"), r[3]});
	spi_end();
	return 0;
}
