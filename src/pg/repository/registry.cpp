// The repositories a backup can be stored in: checking a new one, opening one by name, the
// configured layers (see registry.hpp). The SQL functions are in functions/repositories.cpp.
#include "pg/repository/registry.hpp"

#include "core/error.hpp"
#include "core/storage/local/local_storage.hpp"
#include "core/storage/s3/s3_config.hpp"
#include "core/storage/s3/s3_storage.hpp"
#include "core/storage/throttled_storage.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>
#include <cctype>

namespace tb::pg {

namespace {

struct RepositoryRow {
	std::string url;
	RepositoryOptions options; // the driver's (read_only is ours, not among them)
	bool read_only = false;
};

constexpr const char *kReadOnlyOption = "read_only";

bool true_text(const std::string &v) {
	return v == "true" || v == "on" || v == "1" || v == "yes";
}

// for_writing: the row stays key-share locked until the transaction ends, so that
// backup_repository_remove waits for the copies being stored and then counts them.
std::optional<RepositoryRow> load_repository(const std::string &name, bool for_writing = false) {
	AsExtensionOwner owner; // the catalog is the extension's own
	auto rows = for_writing
	                ? spi_query("SELECT url FROM tenant_backup.repositories WHERE name = $1 FOR KEY SHARE", {name})
	                : spi_query("SELECT url FROM tenant_backup.repositories WHERE name = $1", {name}, true);
	if (rows.empty())
		return std::nullopt;
	RepositoryRow r{*rows[0][0], {}};
	for (const auto &o : spi_query("SELECT o.key, o.value #>> '{}' FROM tenant_backup.repositories r, "
	                               "jsonb_each(r.options) o WHERE r.name = $1 ORDER BY o.key",
	                               {name}, true))
		if (*o[0] == kReadOnlyOption)
			r.read_only = true_text(o[1].value_or(""));
		else
			r.options.emplace_back(*o[0], o[1].value_or(""));
	return r;
}

[[noreturn]] void no_such_repository(const std::string &name) {
	throw SqlError(ERRCODE_UNDEFINED_OBJECT, "repository \"" + name + "\" does not exist", "",
	               "tenant_backup.backup_repositories() lists the repositories; add one with "
	               "tenant_backup.backup_repository_add().");
}

constexpr const char *kFileScheme = "file://";

std::string lower(std::string s) {
	std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
	return s;
}

} // namespace

// Keys under which someone may try to store a credential: refused without echoing the value.
bool option_looks_secret(const std::string &key) {
	std::string k = lower(key);
	if (k == "credentials_file" || k == "credentials_profile")
		return false;
	for (const char *word : {"secret", "password", "passwd", "token", "access_key", "accesskey", "key_id", "credential",
	                         "private", "auth"})
		if (k.find(word) != std::string::npos)
			return true;
	return k == "key";
}

bool valid_repository_name(const std::string &name) {
	if (name.empty() || name.size() > 63 || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	return std::all_of(name.begin(), name.end(),
	                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Throws a clear error unless url and options make a usable repository. Sends nothing.
void check_repository(const std::string &url, const RepositoryOptions &given) {
	RepositoryOptions options; // the driver's: read_only is ours
	for (const auto &[key, value] : given)
		if (key != kReadOnlyOption)
			options.emplace_back(key, value);
		else if (!true_text(value) && value != "false" && value != "off" && value != "0" && value != "no")
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "option read_only must be true or false");
	if (url.find('@') != std::string::npos || url.find('?') != std::string::npos)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
		               "repository URL must not contain \"@\" or \"?\": credentials are never part of a URL", "",
		               "Give the server AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment, or "
		               "use the option credentials_file.");
	for (const auto &[key, value] : options)
		if (option_looks_secret(key))
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "option \"" + key +
			                   "\" looks like a credential: credentials are never stored in the "
			                   "catalog",
			               "",
			               "Give the server AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment, or "
			               "name a file readable only by the server's user with the option credentials_file.");
	if (url.compare(0, strlen(kFileScheme), kFileScheme) == 0) {
		std::string path = url.substr(strlen(kFileScheme));
		if (path.empty() || path[0] != '/')
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "invalid repository URL \"" + url + "\": expected file:///absolute/path");
		if (!options.empty())
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "unknown option \"" + options[0].first + "\" for a file:// repository", "",
			               "A file:// repository takes no options but read_only.");
		return;
	}
	if (url.compare(0, 5, "s3://") != 0)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
		               "invalid repository URL \"" + url + "\": expected s3://bucket/prefix or file:///path");
	S3Config config = parse_s3_url(url);
	for (const auto &[key, value] : options) {
		if (key == "credentials_file") {
			if (value.empty() || value[0] != '/')
				throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "option credentials_file must be an absolute path");
		} else if (key == "credentials_profile") {
			if (value.empty())
				throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "option credentials_profile must not be empty");
		} else {
			set_s3_option(config, key, value); // names an unknown option, or the option and what it expects
		}
	}
	config.credentials = {"placeholder", "placeholder", ""}; // checked when used, not here
	check_s3_config(config);
}

namespace {

std::shared_ptr<Storage> open_url(const std::string &url, const RepositoryOptions &options) {
	if (url.compare(0, strlen(kFileScheme), kFileScheme) == 0)
		return std::make_shared<LocalStorage>(url.substr(strlen(kFileScheme)));
	return open_s3_storage(url, options);
}

} // namespace

bool read_only_option(const RepositoryOptions &options) {
	for (const auto &[key, value] : options)
		if (key == kReadOnlyOption)
			return true_text(value);
	return false;
}

std::shared_ptr<Storage> open_storage_at(const std::string &url, const RepositoryOptions &options) {
	RepositoryOptions driver; // read_only is ours
	for (const auto &option : options)
		if (option.first != kReadOnlyOption)
			driver.push_back(option);
	try {
		return open_url(url, driver);
	} catch (const tb::Error &e) {
		if (e.kind() == tb::ErrorKind::Cancelled)
			throw;
		throw SqlError(ERRCODE_CONFIG_FILE_ERROR, "cannot open repository at " + url + ": " + e.what());
	}
}

std::string local_repository_url() {
	std::shared_ptr<Storage> local = open_repository();
	std::string probe = local->describe("x");
	return kFileScheme + probe.substr(0, probe.size() - 2);
}

namespace {

// The names of a comma-separated list, in order and without repeats; with check_exists, an
// unknown name is an error.
std::vector<std::string> parse_repository_list(const std::string &list, bool check_exists) {
	std::vector<std::string> names;
	size_t start = 0;
	while (start <= list.size()) {
		size_t comma = list.find(',', start);
		std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
		name.erase(0, name.find_first_not_of(' '));
		name.erase(name.find_last_not_of(' ') + 1);
		if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
			if (check_exists && name != kLocalRepository && !load_repository(name))
				no_such_repository(name);
			names.push_back(name);
		}
		if (comma == std::string::npos)
			break;
		start = comma + 1;
	}
	return names;
}

} // namespace

std::vector<std::string> configured_repositories() {
	// Not checked here: an unknown name is one missing copy (open_storage says why), not a failed
	// backup, and readers still find the copies that exist.
	std::vector<std::string> names = parse_repository_list(setting_repositories(), false);
	if (names.empty())
		names.push_back(kLocalRepository);
	return names;
}

std::string checked_repository_list(const std::string &list) {
	std::string out;
	for (const auto &name : parse_repository_list(list, true)) {
		if (!valid_repository_name(name))
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "invalid repository name \"" + name + "\"");
		out += (out.empty() ? "" : ",") + name;
	}
	if (out.empty())
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "repositories must name at least one repository");
	return out;
}

void use_schedule_repositories(const std::string &tenant) {
	std::vector<SqlRow> rows;
	{
		AsExtensionOwner owner; // the catalog is the extension's own
		rows = spi_query("SELECT repositories FROM tenant_backup.schedules WHERE tenant = $1 OR tenant IS NULL "
		                 "ORDER BY tenant NULLS LAST LIMIT 1",
		                 {tenant});
	}
	// Set outside the owner's scope, whose end undoes every setting made inside it.
	if (rows.empty() || !rows[0][0])
		return;
	const char *list = rows[0][0]->c_str();
	pg_call([list] {
		set_config_option("tenant_backup.repositories", list, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
		                  false);
	});
}

bool repository_read_only(const std::string &name) {
	if (name == kLocalRepository)
		return false;
	std::optional<RepositoryRow> row = load_repository(name);
	return row && row->read_only;
}

namespace {

std::shared_ptr<ReadRate> read_rate; // set in a check worker (limit_read_rate)

std::shared_ptr<Storage> throttled(std::shared_ptr<Storage> storage) {
	if (!read_rate)
		return storage;
	return std::make_shared<ThrottledStorage>(std::move(storage), read_rate);
}

std::shared_ptr<Storage> open_unthrottled(const std::string &name, bool for_writing);

} // namespace

void limit_read_rate(uint64_t bytes_per_second) {
	if (!read_rate)
		read_rate = std::make_shared<ReadRate>();
	read_rate->set_limit(bytes_per_second);
}

std::shared_ptr<Storage> open_storage(const std::string &name, bool for_writing) {
	return throttled(open_unthrottled(name, for_writing));
}

namespace {

std::shared_ptr<Storage> open_unthrottled(const std::string &name, bool for_writing) {
	if (name == kLocalRepository)
		return open_repository();
	std::optional<RepositoryRow> row = load_repository(name, for_writing);
	if (!row)
		no_such_repository(name);
	if (for_writing && row->read_only)
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "repository \"" + name + "\" is registered read-only: this database never writes to it", "",
		               "It holds another database's backups (backup_attach reads them); store this database's "
		               "backups elsewhere (tenant_backup.repositories).");
	try {
		return open_url(row->url, row->options);
	} catch (const tb::Error &e) {
		if (e.kind() == tb::ErrorKind::Cancelled)
			throw;
		throw SqlError(ERRCODE_CONFIG_FILE_ERROR, "cannot open repository \"" + name + "\": " + e.what());
	}
}

} // namespace

void require_superuser(const char *action, const char *what) {
	if (pg_eval([] { return superuser(); }))
		return;
	std::string message = "permission denied: only superusers may " + std::string(what);
	audit_autonomously({action, "", 0, "denied", message});
	throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE, message);
}

} // namespace tb::pg
