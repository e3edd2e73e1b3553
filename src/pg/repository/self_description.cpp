// Records and key records in the repositories (see self_description.hpp and docs/FORMAT.md
// "Repository records"): written beside the archives, read back by scan and attach.
#include "pg/repository/self_description.hpp"

#include "core/archive/format.hpp"
#include "core/crypto/record_mac.hpp"
#include "core/error.hpp"
#include "core/stream/sha256.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/catalog/keys.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/repository/registry.hpp"

#include <map>
#include <set>

namespace tb::pg {

namespace {

constexpr const char *kRecordSuffix = ".record";
constexpr const char *kKeySuffix = ".key";
// HKDF info strings: a MAC of one kind of record never passes for the other.
constexpr const char *kBackupRecordInfo = "tenant_backup repository record v1: backup";
constexpr const char *kKeyRecordInfo = "tenant_backup repository record v1: tenant key";
constexpr size_t kMaxRecordBytes = 16u << 20; // a record lists tables; bounded all the same

bool ends_with(const std::string &s, const std::string &suffix) {
	return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A key record's name: "<database prefix>keys/<catalog id>/<generation>-<master key id>.key". The
// writers compute it in SQL (kKeyRecordName, $prefix the database prefix, over tenant_keys k and
// catalog_identity i); readers look for a generation's records under key_record_prefix.
#define TB_KEY_RECORD_NAME(prefix)                                                                                     \
	prefix " || 'keys/' || i.id || '/' || k.generation || '-' || k.master_key_id || '.key'"

std::string key_record_prefix(const std::string &database_prefix, const std::string &catalog, uint32_t generation) {
	return database_prefix + "keys/" + catalog + "/" + std::to_string(generation) + "-";
}

// A record's bytes: the JSON body on one line, then its authentication on the next.
std::string seal(const std::string &body, const char *info) {
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		return body + "\nunauthenticated\n";
	crypto::Key key = crypto::derive_record_key(masters[0], info);
	return body + "\nhmac-sha256 " + crypto::key_id(masters[0]) + " " + crypto::hmac_sha256_hex(key, body) + "\n";
}

struct Unsealed {
	std::string body;
	bool authenticated = false;
	std::string problem; // set: the record is not to be believed
};

Unsealed unseal(const std::string &text, const char *info) {
	Unsealed u;
	size_t nl = text.find('\n');
	if (nl == std::string::npos || text.back() != '\n') {
		u.problem = "the record is truncated";
		return u;
	}
	u.body = text.substr(0, nl);
	std::string trailer = text.substr(nl + 1, text.size() - nl - 2);
	if (trailer == "unauthenticated")
		return u; // written without a master key: nothing to check it with
	if (trailer.compare(0, 12, "hmac-sha256 ") != 0 || trailer.size() != 12 + 16 + 1 + 64 || trailer[28] != ' ') {
		u.problem = "the record's authentication line is damaged";
		return u;
	}
	std::string id = trailer.substr(12, 16), mac = trailer.substr(29);
	for (const crypto::Key &m : load_master_keys())
		if (crypto::key_id(m) == id) {
			if (crypto::hmac_sha256_matches(crypto::derive_record_key(m, info), u.body, mac))
				u.authenticated = true;
			else
				u.problem = "the record fails its authentication (HMAC-SHA256 under master key " + id +
				            "): it was altered or not written by a holder of the master key";
			return u;
		}
	u.problem = "the record is authenticated under master key " + id + ", which is not configured";
	return u;
}

std::string read_small(Storage &storage, const std::string &name) {
	std::unique_ptr<Source> in = storage.open_read(name);
	std::string out;
	uint8_t buf[65536];
	while (size_t n = in->read(buf, sizeof(buf))) {
		out.append(reinterpret_cast<char *>(buf), n);
		if (out.size() > kMaxRecordBytes)
			throw Error(ErrorKind::Corrupt, storage.describe(name) + " is too large for a record");
	}
	return out;
}

// Writes a small object the way the archive itself is: published at commit where publishing is a
// rename, otherwise at once and removed again if the transaction aborts.
void write_small(const std::shared_ptr<Storage> &storage, const std::string &name, const std::string &content) {
	std::unique_ptr<WriteObject> out = storage->open_write(name, temporary_tag());
	out->write(reinterpret_cast<const uint8_t *>(content.data()), content.size());
	out->finish();
	if (storage->publish_is_local()) {
		publish_at_commit(storage, std::move(out));
	} else {
		out->publish();
		remove_at_abort(storage, name);
	}
}

// The JSON body of an own backup's record (nullopt for a backup that is not ours to describe:
// not completed, or attached from elsewhere).
std::optional<std::string> backup_record_body(int64 id, int archive_format) {
	AsExtensionOwner owner;
	auto rows = spi_query(
	    "SELECT jsonb_build_object('format', 1, 'type', 'backup', 'backup_id', b.id, 'tenant', b.tenant, "
	    "  'kind', b.kind, 'label', b.label, 'created_at', b.created_at, 'finished_at', b.finished_at, "
	    "  'snapshot_at', b.snapshot_at, 'server_version', b.server_version, 'tables', b.tables, "
	    "  'row_count', b.row_count, 'size_bytes', b.size_bytes, 'sha256', b.sha256, 'compression', b.compression, "
	    "  'archive_format', $2::int, 'encrypted', b.encrypted, 'key_generation', b.key_generation, "
	    "  'object_name', b.object_name, 'left_out', b.left_out, 'claimed', b.claimed, "
	    "  'source', jsonb_build_object('database_prefix', $3, 'catalog_id', "
	    "     (SELECT i.id FROM tenant_backup.catalog_identity i), 'database', current_database()))::text "
	    "FROM tenant_backup.backups b WHERE b.id = $1::bigint AND b.status = 'completed' AND b.original_id IS NULL",
	    {std::to_string(id), std::to_string(archive_format), database_prefix()});
	if (rows.empty())
		return std::nullopt;
	return rows[0][0];
}

struct OwnKey {
	std::string name, body;
};

// The key record of one own generation (nullopt for an attached key or none).
std::optional<OwnKey> key_record(uint32_t generation) {
	AsExtensionOwner owner;
	auto rows =
	    spi_query("SELECT jsonb_build_object('format', 1, 'type', 'tenant_key', 'tenant', k.tenant, "
	              "  'generation', k.generation, 'wrapped_key', encode(k.wrapped_key, 'hex'), "
	              "  'master_key_id', k.master_key_id, 'created_at', k.created_at, "
	              "  'source', jsonb_build_object('database_prefix', $2, 'catalog_id', i.id))::text, "
	              "  " TB_KEY_RECORD_NAME("$2") " "
	                                            "FROM tenant_backup.tenant_keys k, tenant_backup.catalog_identity i "
	                                            "WHERE k.generation = $1::int AND k.origin IS NULL",
	              {std::to_string(generation), database_prefix()});
	if (rows.empty())
		return std::nullopt;
	return OwnKey{*rows[0][1], *rows[0][0]};
}

// Writes the key record of `generation` unless `exists` says it is there.
bool ensure_key_record(const std::shared_ptr<Storage> &storage, uint32_t generation,
                       const std::function<bool(const std::string &)> &exists, std::string *written = nullptr) {
	std::optional<OwnKey> key = key_record(generation);
	if (!key || exists(key->name))
		return false;
	write_small(storage, key->name, seal(key->body, kKeyRecordInfo));
	if (written)
		*written = key->name;
	return true;
}

std::optional<uint32_t> own_key_generation(int64 id) {
	AsExtensionOwner owner;
	auto rows = spi_query("SELECT key_generation FROM tenant_backup.backups WHERE id = $1::bigint "
	                      "AND original_id IS NULL AND key_generation IS NOT NULL",
	                      {std::to_string(id)});
	if (rows.empty() || !rows[0][0])
		return std::nullopt;
	return static_cast<uint32_t>(std::stoul(*rows[0][0]));
}

void describe_copy(int64 id, const std::string &object_name, const std::shared_ptr<Storage> &storage,
                   int archive_format) {
	std::optional<std::string> body = backup_record_body(id, archive_format);
	if (!body)
		return;
	write_small(storage, record_name(object_name), seal(*body, kBackupRecordInfo));
	if (std::optional<uint32_t> generation = own_key_generation(id))
		ensure_key_record(storage, *generation, [&](const std::string &n) { return storage->exists(n); });
}

int archive_format_of(Storage &storage, const std::string &name) {
	std::unique_ptr<Source> in = storage.open_read(name);
	uint8_t header[archive::kFileHeaderSize];
	size_t got = 0;
	while (got < sizeof(header))
		if (size_t n = in->read(header + got, sizeof(header) - got))
			got += n;
		else
			throw Error(ErrorKind::Corrupt, storage.describe(name) + " is too short for an archive");
	return archive::FileHeader::parse(header).version;
}

std::vector<std::string> every_repository() {
	std::vector<std::string> names{kLocalRepository};
	AsExtensionOwner owner;
	for (const auto &r : spi_query("SELECT name FROM tenant_backup.repositories ORDER BY name"))
		names.push_back(*r[0]);
	return names;
}

// The fields of a record body that scan and attach use, parsed by PostgreSQL's jsonb in a
// subtransaction (a body that is not JSON is a damaged record, not a failed call).
struct BackupFields {
	std::optional<int64> backup_id, size_bytes;
	std::optional<uint32_t> key_generation;
	std::string type, tenant, kind, label, snapshot_at, sha256, object_name, database_prefix, catalog, database;
	bool encrypted = false;
	int archive_format = 0;
};

std::optional<std::string> parse_fields(const std::string &body, const char *sql, SqlRow &out) {
	return try_in_subtransaction([&] {
		auto rows = spi_query(sql, {body}, true);
		out = rows.at(0);
	});
}

constexpr const char *kBackupFieldsSql =
    "SELECT r->>'type', (r->>'backup_id')::bigint, r->>'tenant', r->>'kind', coalesce(r->>'label', ''), "
    "  (r->>'snapshot_at')::timestamptz::text, (r->>'size_bytes')::bigint, r->>'sha256', r->>'object_name', "
    "  (r->>'encrypted')::boolean::text, (r->>'key_generation')::int, r->'source'->>'database_prefix', "
    "  r->'source'->>'catalog_id', coalesce((r->>'archive_format')::int, 0), r->'source'->>'database' "
    "FROM (SELECT $1::jsonb r) s";

struct KeyFields {
	std::string type, tenant, wrapped_hex, master_key_id, catalog;
	std::optional<uint32_t> generation;
};

constexpr const char *kKeyFieldsSql = "SELECT r->>'type', r->>'tenant', (r->>'generation')::int, r->>'wrapped_key', "
                                      "  r->>'master_key_id', r->'source'->>'catalog_id' "
                                      "FROM (SELECT $1::jsonb r) s";

std::optional<std::string> read_backup_fields(const std::string &body, BackupFields &f) {
	SqlRow r;
	if (std::optional<std::string> error = parse_fields(body, kBackupFieldsSql, r))
		return "the record is not valid: " + *error;
	f.type = r[0].value_or("");
	if (r[1])
		f.backup_id = std::stoll(*r[1]);
	f.tenant = r[2].value_or("");
	f.kind = r[3].value_or("");
	f.label = r[4].value_or("");
	f.snapshot_at = r[5].value_or("");
	if (r[6])
		f.size_bytes = std::stoll(*r[6]);
	f.sha256 = r[7].value_or("");
	f.object_name = r[8].value_or("");
	f.encrypted = r[9].value_or("") == "true";
	if (r[10])
		f.key_generation = static_cast<uint32_t>(std::stoul(*r[10]));
	f.database_prefix = r[11].value_or("");
	f.catalog = r[12].value_or("");
	f.archive_format = std::stoi(r[13].value_or("0"));
	f.database = r[14].value_or("");
	if (f.type != "backup" || !f.backup_id || f.tenant.empty() || !f.size_bytes || f.sha256.size() != 64 ||
	    f.object_name.empty() || f.catalog.empty() || (f.encrypted != f.key_generation.has_value()))
		return std::string("the record lacks fields a backup record has");
	return std::nullopt;
}

std::optional<std::string> read_key_fields(const std::string &body, KeyFields &f) {
	SqlRow r;
	if (std::optional<std::string> error = parse_fields(body, kKeyFieldsSql, r))
		return "the key record is not valid: " + *error;
	f.type = r[0].value_or("");
	f.tenant = r[1].value_or("");
	if (r[2])
		f.generation = static_cast<uint32_t>(std::stoul(*r[2]));
	f.wrapped_hex = r[3].value_or("");
	f.master_key_id = r[4].value_or("");
	f.catalog = r[5].value_or("");
	if (f.type != "tenant_key" || f.tenant.empty() || !f.generation || f.wrapped_hex.empty() || f.catalog.empty())
		return std::string("the key record lacks fields a key record has");
	return std::nullopt;
}

std::vector<uint8_t> from_hex(const std::string &hex) {
	auto digit = [](char c) -> int {
		if (c >= '0' && c <= '9')
			return c - '0';
		if (c >= 'a' && c <= 'f')
			return c - 'a' + 10;
		return -1;
	};
	std::vector<uint8_t> out;
	if (hex.size() % 2)
		return {};
	for (size_t i = 0; i < hex.size(); i += 2) {
		int hi = digit(hex[i]), lo = digit(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return {};
		out.push_back(static_cast<uint8_t>(hi * 16 + lo));
	}
	return out;
}

// What scan and attach know of one backup found.
struct Candidate {
	FoundBackup found;
	BackupFields fields;
	std::string body;                    // the record's body, as authenticated
	std::optional<crypto::Key> data_key; // unwrapped, for an encrypted backup whose key was found
	std::string key_origin;              // "<catalog id>:<generation>"
};

// The data key of a found backup, from the key records under its source's prefix: authenticated,
// of the record's tenant and generation, and unwrapped by a configured master key (whose
// associated data binds the tenant and generation again). "" on success, else why not.
std::string find_data_key(Storage &storage, const std::set<std::string> &names, Candidate &c) {
	const BackupFields &f = c.fields;
	std::string prefix = key_record_prefix(f.database_prefix, f.catalog, *f.key_generation);
	std::string problem = "no key record of tenant \"" + f.tenant + "\" (generation " +
	                      std::to_string(*f.key_generation) + ") is in the repository";
	for (auto it = names.lower_bound(prefix); it != names.end() && it->compare(0, prefix.size(), prefix) == 0; ++it) {
		if (!ends_with(*it, kKeySuffix))
			continue;
		std::string text;
		std::string error = error_of([&] { text = read_small(storage, *it); });
		if (!error.empty()) {
			problem = error;
			continue;
		}
		Unsealed u = unseal(text, kKeyRecordInfo);
		if (!u.problem.empty() || !u.authenticated) {
			problem = "key record " + *it + ": " + (u.problem.empty() ? "unauthenticated" : u.problem);
			continue;
		}
		KeyFields k;
		if (std::optional<std::string> bad = read_key_fields(u.body, k)) {
			problem = "key record " + *it + ": " + *bad;
			continue;
		}
		if (k.tenant != f.tenant || *k.generation != *f.key_generation || k.catalog != f.catalog) {
			problem = "key record " + *it + " is of another tenant or generation";
			continue;
		}
		try {
			c.data_key = unwrap_found_key(k.tenant, *k.generation, from_hex(k.wrapped_hex), k.master_key_id);
			c.key_origin = f.catalog + ":" + std::to_string(*f.key_generation);
			return "";
		} catch (const SqlError &e) {
			problem = "key record " + *it + ": " + e.what();
		} catch (const Error &e) {
			if (e.kind() == ErrorKind::Cancelled)
				throw;
			problem = "key record " + *it + ": " + e.what();
		}
	}
	return problem;
}

std::vector<Candidate> survey(const std::string &repository, std::shared_ptr<Storage> &storage) {
	storage = open_storage(repository);
	std::map<std::string, uint64_t> sizes;
	std::set<std::string> names;
	for (const auto &o : storage->list("")) {
		sizes[o.name] = o.size;
		names.insert(o.name);
	}
	std::vector<Candidate> out;
	for (const auto &[name, size] : sizes) {
		if (!ends_with(name, kRecordSuffix))
			continue;
		pg_call([] { CHECK_FOR_INTERRUPTS(); });
		Candidate c;
		FoundBackup &fb = c.found;
		fb.object_name = name.substr(0, name.size() - strlen(kRecordSuffix));
		auto damaged = [&](const std::string &why) {
			fb.state = "damaged";
			fb.detail = why;
		};
		std::string text;
		std::string error = error_of([&] { text = read_small(*storage, name); });
		if (!error.empty()) {
			damaged(error);
			out.push_back(std::move(c));
			continue;
		}
		Unsealed u = unseal(text, kBackupRecordInfo);
		fb.authenticated = u.authenticated;
		std::optional<std::string> bad = u.problem.empty() ? read_backup_fields(u.body, c.fields) : u.problem;
		const BackupFields &f = c.fields;
		if (!bad) {
			c.body = u.body;
			fb.original_id = f.backup_id;
			fb.tenant = f.tenant;
			fb.kind = f.kind;
			fb.label = f.label;
			fb.snapshot_at = f.snapshot_at;
			fb.size_bytes = f.size_bytes;
			fb.encrypted = f.encrypted;
			fb.source = "database " + f.database + " (" + f.database_prefix + ", catalog " + f.catalog + ")";
			fb.source_database = f.database;
		}
		{
			AsExtensionOwner owner;
			auto known = spi_query("SELECT c.backup_id FROM tenant_backup.backup_copies c "
			                       "WHERE c.repository = $1 AND c.object_name = $2 "
			                       "UNION ALL SELECT b.id FROM tenant_backup.backups b WHERE b.object_name = $2 "
			                       "LIMIT 1",
			                       {repository, fb.object_name});
			if (!known.empty())
				fb.local_id = std::stoll(*known[0][0]);
		}
		if (bad)
			damaged(*bad);
		else if (f.object_name != fb.object_name)
			damaged("the record describes another archive (" + f.object_name + ")");
		else if (!sizes.count(fb.object_name))
			damaged("the archive is not in the repository");
		else if (sizes[fb.object_name] != static_cast<uint64_t>(*f.size_bytes))
			damaged("the archive holds " + std::to_string(sizes[fb.object_name]) + " bytes, the record says " +
			        std::to_string(*f.size_bytes));
		else if (fb.local_id)
			fb.state = "known";
		else if (f.encrypted && !(fb.detail = find_data_key(*storage, names, c)).empty())
			fb.state = "keys_missing";
		else
			fb.state = "unknown";
		if (fb.state != "damaged" && !fb.authenticated && fb.detail.empty())
			fb.detail = "the record is not authenticated: it was written without a master key";
		out.push_back(std::move(c));
	}
	return out;
}

} // namespace

std::string record_name(const std::string &archive_name) {
	return archive_name + kRecordSuffix;
}

bool is_description_object(const std::string &name) {
	return ends_with(name, kRecordSuffix) || ends_with(name, kKeySuffix);
}

void describe_backup(int64 id) {
	std::vector<SqlRow> copies;
	{
		AsExtensionOwner owner;
		copies = spi_query("SELECT c.repository, c.object_name FROM tenant_backup.backup_copies c "
		                   "WHERE c.backup_id = $1::bigint AND c.state = 'stored' "
		                   "UNION SELECT b.repository, b.object_name FROM tenant_backup.backups b "
		                   "WHERE b.id = $1::bigint AND b.object_name IS NOT NULL AND NOT EXISTS "
		                   "  (SELECT 1 FROM tenant_backup.backup_copies c WHERE c.backup_id = b.id)",
		                   {std::to_string(id)});
	}
	for (const auto &c : copies) {
		std::string error = error_of([&] {
			std::shared_ptr<Storage> storage = open_storage(*c[0], true);
			describe_copy(id, *c[1], storage, archive::kFormatVersion);
		});
		if (!error.empty())
			warn("the record of backup " + std::to_string(id) + " was not written to repository \"" + *c[0] +
			         "\": " + error,
			     "tenant_backup.backup_sync() writes it later.");
	}
}

void describe_stored_copy(int64 id, const std::string &object_name, const std::shared_ptr<Storage> &storage) {
	describe_copy(id, object_name, storage, archive_format_of(*storage, object_name));
}

void describe_repository(
    const std::string &repository, Storage &storage_ref,
    const std::function<void(std::optional<int64>, const char *, const std::string &, const std::string &)> &done,
    const TransactionBreaks &breaks) {
	std::shared_ptr<Storage> storage(&storage_ref, [](Storage *) {}); // the caller keeps it
	std::set<std::string> names;
	std::string prefix = database_prefix();
	breaks.run_outside([&] {
		for (const auto &o : storage->list(prefix))
			names.insert(o.name);
	});
	int written = 0;
	auto wrote = [&] {
		if (++written % 100 == 0)
			breaks.commit_now();
	};
	auto exists = [&](const std::string &n) { return names.count(n) > 0; };
	std::vector<SqlRow> keys;
	{
		AsExtensionOwner owner;
		// Each key record's name, so that only the missing ones cost a query (100,000 tenants: one
		// statement per sync, not one per key).
		keys = spi_query("SELECT k.generation, " TB_KEY_RECORD_NAME(
		                     "$1") " "
		                           "FROM tenant_backup.tenant_keys k, tenant_backup.catalog_identity i "
		                           "WHERE k.origin IS NULL ORDER BY k.generation",
		                 {database_prefix()});
	}
	// The stored copies in parts of 5,000 (by backup id), a transaction each with breaks.
	constexpr int kPart = 5000;
	SqlValue after = std::string("0");
	while (after) {
		std::vector<SqlRow> copies;
		{
			AsExtensionOwner owner;
			copies = spi_query("SELECT b.id, b.object_name FROM tenant_backup.backups b "
			                   "JOIN tenant_backup.backup_copies c ON c.backup_id = b.id "
			                   "WHERE c.repository = $1 AND c.state = 'stored' AND b.status = 'completed' "
			                   "AND b.original_id IS NULL AND b.id > $2::bigint ORDER BY b.id LIMIT $3::int",
			                   {repository, after, std::to_string(kPart)});
		}
		after = copies.size() < static_cast<size_t>(kPart) ? std::nullopt : copies.back()[0];
		for (const auto &c : copies) {
			int64 id = std::stoll(*c[0]);
			const std::string &object = *c[1];
			if (exists(record_name(object)) || !exists(object))
				continue; // described already; or missing (step 1 records that)
			std::string error = error_of([&] {
				std::optional<std::string> body = backup_record_body(id, archive_format_of(*storage, object));
				if (body)
					write_small(storage, record_name(object), seal(*body, kBackupRecordInfo));
			});
			done(id, "write_record", record_name(object), error);
			wrote();
		}
		breaks.commit_now();
	}
	for (const auto &k : keys) {
		if (exists(*k[1]))
			continue;
		std::string name;
		std::string error =
		    error_of([&] { ensure_key_record(storage, static_cast<uint32_t>(std::stoul(*k[0])), exists, &name); });
		if (!name.empty() || !error.empty()) {
			done(std::nullopt, "write_key", name, error);
			wrote();
		}
	}
}

// The objects under "<prefix>keys/" of each prefix.
static std::vector<ObjectInfo> list_key_records(Storage &storage, const std::set<std::string> &prefixes) {
	std::vector<ObjectInfo> out;
	for (const std::string &prefix : prefixes)
		for (auto &o : storage.list(prefix + "keys/"))
			out.push_back(std::move(o));
	return out;
}

std::set<std::string> key_record_prefixes(const std::string &tenant) {
	// (the own prefix covers every catalog of this database, one dropped and created again included)
	std::set<std::string> prefixes{database_prefix()};
	AsExtensionOwner owner;
	for (const auto &row : spi_query("SELECT DISTINCT source->>'database_prefix' FROM tenant_backup.backups "
	                                 "WHERE tenant = $1 AND source->>'database_prefix' IS NOT NULL",
	                                 {tenant}))
		prefixes.insert(*row[0]);
	return prefixes;
}

std::vector<std::string> forget_key_records(const std::string &tenant, const std::set<std::string> &prefixes) {
	std::vector<std::string> unreachable;
	for (const std::string &repository : every_repository()) {
		if (repository_read_only(repository)) {
			unreachable.push_back(repository + ": registered read-only in this database, not changed");
			continue;
		}
		std::string error = error_of([&] {
			std::shared_ptr<Storage> storage = open_storage(repository);
			for (const auto &o : list_key_records(*storage, prefixes)) {
				if (!ends_with(o.name, kKeySuffix))
					continue;
				// Read the tenant off the record itself: key records of other catalogs of this
				// database (a catalog dropped and created again) are the tenant's too.
				std::string text = read_small(*storage, o.name);
				size_t nl = text.find('\n');
				KeyFields k;
				if (nl == std::string::npos || read_key_fields(text.substr(0, nl), k) || k.tenant != tenant)
					continue;
				remove_at_commit(storage, o.name);
			}
		});
		if (!error.empty())
			unreachable.push_back(repository + ": " + error);
	}
	return unreachable;
}

std::vector<FoundBackup> scan_repository(const std::string &repository) {
	std::shared_ptr<Storage> storage;
	std::vector<FoundBackup> out;
	for (Candidate &c : survey(repository, storage))
		out.push_back(std::move(c.found));
	return out;
}

std::vector<AttachedBackup> attach_backups(const std::string &repository, const std::string &tenant,
                                           const std::string &object_name, bool trust_unauthenticated,
                                           const std::string &source_database) {
	std::shared_ptr<Storage> storage;
	std::vector<Candidate> candidates = survey(repository, storage);
	// A repository several databases (or clusters) write holds backups of each: attaching from
	// more than one at once would mix other customers' tenants of the same name into this
	// catalog, so that takes naming the source.
	if (source_database.empty()) {
		std::map<std::string, std::string> sources; // source -> its database's name
		for (const Candidate &c : candidates)
			if (c.found.state != "known" && !c.found.source.empty() &&
			    (object_name.empty() || c.found.object_name == object_name) &&
			    (tenant.empty() || c.found.tenant == tenant))
				sources.emplace(c.found.source, c.found.source_database);
		if (sources.size() > 1) {
			std::string list;
			for (const auto &[source, database] : sources)
				list += (list.empty() ? "" : ", ") + ("\"" + database + "\" (" + source + ")");
			throw SqlError(ERRCODE_AMBIGUOUS_PARAMETER,
			               "repository \"" + repository + "\" holds backups of " + std::to_string(sources.size()) +
			                   " databases: " + list + "; nothing was attached",
			               "",
			               "Name the one to attach with source_database => '...', or attach from all of them "
			               "with source_database => '*' (backup_repository_scan shows each backup's source).");
		}
	}
	std::vector<AttachedBackup> out;
	for (Candidate &c : candidates) {
		if (!object_name.empty() && c.found.object_name != object_name)
			continue;
		if (!tenant.empty() && c.found.tenant != tenant)
			continue;
		if (!source_database.empty() && source_database != "*" && c.found.source_database != source_database)
			continue;
		AttachedBackup a{c.found, std::nullopt, "refused", c.found.detail};
		if (c.found.state == "known") {
			a.outcome = "already_known";
			a.backup_id = c.found.local_id;
			out.push_back(std::move(a));
			continue;
		}
		if (c.found.state != "unknown") {
			out.push_back(std::move(a));
			continue;
		}
		if (!c.found.authenticated && !trust_unauthenticated) {
			a.detail = "the record is not authenticated (written without a master key); pass "
			           "trust_unauthenticated => true to attach it on your own word";
			out.push_back(std::move(a));
			continue;
		}
		const BackupFields &f = c.fields;
		// The archive in full: its size and SHA-256 as the authenticated record says, and a header
		// of the record's backup id and key generation.
		std::string error = error_of([&] {
			uint64_t size = 0;
			std::unique_ptr<Source> in = storage->open_read(c.found.object_name);
			std::string sha = sha256_of(*in, &size);
			if (sha != f.sha256 || size != static_cast<uint64_t>(*f.size_bytes))
				throw Error(ErrorKind::Corrupt, "the archive fails its SHA-256 check against the record");
			std::unique_ptr<Source> head = storage->open_read(c.found.object_name);
			uint8_t header[archive::kFileHeaderSize];
			size_t got = 0;
			while (got < sizeof(header))
				if (size_t n = head->read(header + got, sizeof(header) - got))
					got += n;
				else
					throw Error(ErrorKind::Corrupt, "the archive is too short");
			archive::FileHeader h = archive::FileHeader::parse(header);
			if (h.backup_id != static_cast<uint64_t>(*f.backup_id) || h.key_generation != f.key_generation.value_or(0))
				throw Error(ErrorKind::Corrupt, "the archive's header is of another backup or key");
		});
		if (!error.empty()) {
			a.detail = error;
			out.push_back(std::move(a));
			continue;
		}
		std::optional<uint32_t> local_generation;
		if (f.encrypted)
			local_generation = adopt_data_key(f.tenant, c.key_origin, *c.data_key);
		AsExtensionOwner owner;
		auto row = spi_query(
		    "INSERT INTO tenant_backup.backups (id, tenant, kind, label, status, created_at, finished_at, "
		    "  snapshot_at, server_version, tables, row_count, size_bytes, sha256, compression, repository, "
		    "  object_name, encrypted, key_generation, claimed, left_out, original_id, source, attached_at) "
		    "SELECT nextval('tenant_backup.backups_id_seq'), r->>'tenant', r->>'kind', r->>'label', 'completed', "
		    "  (r->>'created_at')::timestamptz, (r->>'finished_at')::timestamptz, (r->>'snapshot_at')::timestamptz, "
		    "  coalesce(r->>'server_version', ''), coalesce(r->'tables', '[]'), (r->>'row_count')::bigint, "
		    "  (r->>'size_bytes')::bigint, r->>'sha256', r->>'compression', $2, r->>'object_name', "
		    "  $3::int IS NOT NULL, $3::int, nullif(r->'claimed', 'null'), nullif(r->'left_out', 'null'), "
		    "  (r->>'backup_id')::bigint, r->'source', now() "
		    "FROM (SELECT $1::jsonb r) s RETURNING id",
		    {c.body, repository, local_generation ? SqlValue(std::to_string(*local_generation)) : std::nullopt});
		a.backup_id = std::stoll(*row[0][0]);
		std::string location = storage->describe(c.found.object_name);
		spi_query("UPDATE tenant_backup.backups SET location = $2 WHERE id = $1::bigint",
		          {std::to_string(*a.backup_id), location});
		spi_query(
		    "INSERT INTO tenant_backup.backup_copies (backup_id, repository, object_name, location, size_bytes, "
		    "sha256, stored_at, state) VALUES ($1::bigint, $2, $3, $4, $5::bigint, $6, clock_timestamp(), 'stored')",
		    {std::to_string(*a.backup_id), repository, c.found.object_name, location, std::to_string(*f.size_bytes),
		     f.sha256});
		a.outcome = "attached";
		a.detail = "";
		out.push_back(std::move(a));
	}
	return out;
}

} // namespace tb::pg
