// Repositories: named places that hold archives. "local" is built in (the directory of
// tenant_backup.repository); others are rows of tenant_backup.repositories, added with
// backup_repository_add: s3://bucket/prefix (an S3Storage) or file:///path (another directory).
// tenant_backup.repositories lists the ones every new backup is stored in, the primary copy first.
//
// Credentials never enter the catalog: an S3 repository signs with the server's environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or with the option
// credentials_file, a file only the server's user can read; options that look like secrets are
// refused. Needs SPI connected.
#pragma once
#include "core/storage/storage.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tb::pg {

constexpr const char *kLocalRepository = "local";

// The names of tenant_backup.repositories, in order and without repeats (not checked to exist).
std::vector<std::string> configured_repositories();
// Opens a repository by name; throws a clear error if there is no such repository. for_writing:
// to store copies in it, which keeps it from being removed until the transaction ends.
std::shared_ptr<Storage> open_storage(const std::string &name, bool for_writing = false);
// In a check worker of the scheduler (issue 20): from now on, every object this process reads
// through a storage open_storage returns counts against one limit of `bytes_per_second`, all of
// its reads together (core/storage/throttled_storage.hpp); 0 lifts it. Called again on reload.
void limit_read_rate(uint64_t bytes_per_second);
// Whether the repository is registered read-only (the option read_only): this database never
// writes or removes anything there (new copies, sync repairs, retention, deletes, forgetting);
// open_storage(name, true) refuses it. For another database's repository, attached in staging.
bool repository_read_only(const std::string &name);
// A list of repository names as tenant_backup.repositories takes it, checked (names exist, no
// repeats); returned as "a,b". For a schedule's own list.
std::string checked_repository_list(const std::string &list);
// In a scheduled job: the schedule in force for the tenant names repositories of its own, which
// then replace tenant_backup.repositories until the transaction ends.
void use_schedule_repositories(const std::string &tenant);
// A repository's options (tenant_backup.repositories.options), as key and text value.
using RepositoryOptions = std::vector<std::pair<std::string, std::string>>;
// Whether a name may be given to a new repository (lower-case letters, digits, underscores).
bool valid_repository_name(const std::string &name);
// Keys under which someone may try to store a credential: refused without echoing the value.
bool option_looks_secret(const std::string &key);
// Throws a clear error unless url and options make a usable repository. Sends nothing.
void check_repository(const std::string &url, const RepositoryOptions &options);
// Whether options (as given to backup_repository_add or _alter) make the repository read-only.
bool read_only_option(const RepositoryOptions &options);
// Opens a repository at a URL with options (checked by check_repository first), not by name: for
// backup_repository_alter, which looks at the new URL before its transaction commits.
std::shared_ptr<Storage> open_storage_at(const std::string &url, const RepositoryOptions &options);
// The built-in repository "local" as a file:// URL.
std::string local_repository_url();
// Refuses unless the current user is a superuser (audited like require_backup_admin).
void require_superuser(const char *action, const char *what);

} // namespace tb::pg
