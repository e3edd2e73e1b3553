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
constexpr const char *kTombstoneSuffix = ".tombstone";
// HKDF info strings: a MAC of one kind of record never passes for another.
constexpr const char *kBackupRecordInfo = "tenant_backup repository record v1: backup";
constexpr const char *kKeyRecordInfo = "tenant_backup repository record v1: tenant key";
constexpr const char *kTombstoneInfo = "tenant_backup repository record v1: tombstone";
constexpr int kResealPerTransaction = 100;    // objects re-sealed between commits (with breaks)
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

// Replaces (or creates) a small object at once, whole: a rename, or one PUT. For re-sealing, where
// the old and the new object are both good and no transaction decides between them.
void write_now(Storage &storage, const std::string &name, const std::string &content) {
	// (a tag of its own: this transaction may have a write of the same name waiting for its commit)
	std::unique_ptr<WriteObject> out = storage.open_write(name, temporary_tag() + "r");
	out->write(reinterpret_cast<const uint8_t *>(content.data()), content.size());
	out->finish();
	out->publish();
}

std::string to_hex(const uint8_t *data, size_t len) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (size_t i = 0; i < len; i++) {
		out += digits[data[i] >> 4];
		out += digits[data[i] & 15];
	}
	return out;
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

// Records that a repository describes these backups now (backups.described_at; the guard of DROP
// EXTENSION counts those without), in the transaction that wrote their records.
void mark_described(const std::vector<std::string> &ids) {
	if (ids.empty())
		return;
	std::string array = "{";
	for (const std::string &id : ids)
		array += (array.size() > 1 ? "," : "") + id;
	array += "}";
	AsExtensionOwner owner;
	spi_query("UPDATE tenant_backup.backups SET described_at = clock_timestamp() "
	          "WHERE id = ANY ($1::bigint[]) AND described_at IS NULL",
	          {array});
}

void describe_copy(int64 id, const std::string &object_name, const std::shared_ptr<Storage> &storage,
                   int archive_format) {
	std::optional<std::string> body = backup_record_body(id, archive_format);
	if (!body)
		return;
	write_small(storage, record_name(object_name), seal(*body, kBackupRecordInfo));
	if (std::optional<uint32_t> generation = own_key_generation(id))
		ensure_key_record(storage, *generation, [&](const std::string &n) { return storage->exists(n); });
	mark_described({std::to_string(id)});
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
	std::optional<int64> finished_us; // finished_at, in microseconds since 1970 (tenant tombstones)
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
    "  r->'source'->>'catalog_id', coalesce((r->>'archive_format')::int, 0), r->'source'->>'database', "
    "  (extract(epoch FROM (r->>'finished_at')::timestamptz) * 1000000)::bigint "
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
	if (r[15])
		f.finished_us = std::stoll(*r[15]);
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

// A tombstone's fields (docs/FORMAT.md "Tombstones"): of "backup" (object_name, sha256) or of
// "tenant" (tenant, database_prefix, forgotten_at).
struct TombstoneFields {
	std::string of, tenant, object_name, sha256, database_prefix, reason, at, source;
	std::optional<int64> forgotten_us;
	bool authenticated = false;
};

constexpr const char *kTombstoneFieldsSql =
    "SELECT r->>'type', r->>'of', r->>'tenant', r->>'object_name', r->>'sha256', r->>'database_prefix', "
    "  (extract(epoch FROM (r->>'forgotten_at')::timestamptz) * 1000000)::bigint, coalesce(r->>'reason', ''), "
    "  coalesce(r->>'deleted_at', r->>'forgotten_at', ''), coalesce(r->'source'->>'database', '') "
    "FROM (SELECT $1::jsonb r) s";

// Reads and checks the tombstone `name`: nullopt and its fields, or why it is not to be believed.
std::optional<std::string> read_tombstone(Storage &storage, const std::string &name, TombstoneFields &f) {
	std::string text;
	std::string error = error_of([&] { text = read_small(storage, name); });
	if (!error.empty())
		return error;
	Unsealed u = unseal(text, kTombstoneInfo);
	if (!u.problem.empty())
		return u.problem;
	f.authenticated = u.authenticated;
	SqlRow r;
	if (std::optional<std::string> bad = parse_fields(u.body, kTombstoneFieldsSql, r))
		return "the tombstone is not valid: " + *bad;
	f.of = r[1].value_or("");
	f.tenant = r[2].value_or("");
	f.object_name = r[3].value_or("");
	f.sha256 = r[4].value_or("");
	f.database_prefix = r[5].value_or("");
	if (r[6])
		f.forgotten_us = std::stoll(*r[6]);
	f.reason = r[7].value_or("");
	f.at = r[8].value_or("");
	f.source = r[9].value_or("");
	bool of_backup = f.of == "backup" && !f.object_name.empty() && f.sha256.size() == 64;
	bool of_tenant = f.of == "tenant" && !f.tenant.empty() && !f.database_prefix.empty() && f.forgotten_us;
	if (r[0].value_or("") != "tombstone" || !(of_backup || of_tenant))
		return std::string("the tombstone lacks fields a tombstone has");
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
	std::string base_state, base_detail; // deleted or forgotten: what it would be without its tombstone
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

// The tenant tombstones of a repository ("<prefix>tombstones/...tombstone"), by database prefix
// and tenant: the latest time each tenant was forgotten. One that fails its check is not believed.
struct Forgotten {
	int64 us = 0;
	std::string at, source;
};

std::map<std::pair<std::string, std::string>, Forgotten> tenant_tombstones(Storage &storage,
                                                                           const std::set<std::string> &names) {
	std::map<std::pair<std::string, std::string>, Forgotten> out;
	for (const std::string &name : names) {
		if (!ends_with(name, kTombstoneSuffix) || name.find("/tombstones/") == std::string::npos)
			continue;
		pg_call([] { CHECK_FOR_INTERRUPTS(); });
		TombstoneFields t;
		if (read_tombstone(storage, name, t) || t.of != "tenant")
			continue;
		Forgotten &f = out[{t.database_prefix, t.tenant}];
		if (*t.forgotten_us >= f.us)
			f = {*t.forgotten_us, t.at, t.source};
	}
	return out;
}

// Why a backup found is not to be attached although its record is good: a tombstone of it
// (deleted) or of its tenant forgotten after it was taken. "" when there is none.
std::string tombstone_of(Storage &storage, const std::set<std::string> &names,
                         const std::map<std::pair<std::string, std::string>, Forgotten> &forgotten,
                         const BackupFields &f, std::string &state) {
	// Its tenant forgotten first: that says more than the tombstone its deletion left with it.
	auto it = forgotten.find({f.database_prefix, f.tenant});
	if (it != forgotten.end() && (!f.finished_us || *f.finished_us <= it->second.us)) {
		state = "forgotten";
		return "tenant \"" + f.tenant + "\" was forgotten at " + it->second.at + " in database " + it->second.source +
		       ", after this backup was taken; attach refuses it unless allow_deleted => true";
	}
	std::string name = tombstone_name(f.object_name);
	if (names.count(name)) {
		TombstoneFields t;
		if (!read_tombstone(storage, name, t) && t.of == "backup" && t.object_name == f.object_name &&
		    t.sha256 == f.sha256) {
			state = "deleted";
			return "the backup was deleted (" + t.reason + ") at " + t.at + " in database " + t.source +
			       (t.authenticated ? "" : " (an unauthenticated tombstone)") +
			       "; attach refuses it unless allow_deleted => true";
		}
	}
	return "";
}

// The backup id in an archive's name, of any database: "<system identifier>/<database oid>/<id>-<16
// hex digits>.tbk" (archive_names.hpp); nullopt for any other object.
std::optional<int64> archive_backup_id(const std::string &name) {
	size_t slash = name.rfind('/');
	std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
	size_t dash = base.find('-');
	if (dash == std::string::npos || dash == 0 || dash > 18 || base.size() != dash + 1 + 16 + 4 ||
	    base.compare(base.size() - 4, 4, ".tbk") != 0)
		return std::nullopt;
	std::string id = base.substr(0, dash), hex = base.substr(dash + 1, 16);
	if (id.find_first_not_of("0123456789") != std::string::npos ||
	    hex.find_first_not_of("0123456789abcdef") != std::string::npos)
		return std::nullopt;
	return std::stoll(id);
}

std::vector<Candidate> survey(const std::string &repository, std::shared_ptr<Storage> &storage) {
	storage = open_storage(repository);
	std::map<std::string, uint64_t> sizes;
	std::set<std::string> names;
	for (const auto &o : storage->list("")) {
		sizes[o.name] = o.size;
		names.insert(o.name);
	}
	std::map<std::pair<std::string, std::string>, Forgotten> forgotten = tenant_tombstones(*storage, names);
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
		if (fb.state != "damaged" && fb.state != "known") {
			std::string state;
			std::string why = tombstone_of(*storage, names, forgotten, f, state);
			if (!why.empty()) {
				c.base_state = fb.state;
				c.base_detail = fb.detail;
				fb.state = state;
				fb.detail = why;
			}
		}
		out.push_back(std::move(c));
	}
	// Archives without a record beside them: listed too, so that nothing a repository holds is
	// hidden (a backup of 0.1.0 not described yet, a record lost or never written).
	for (const auto &[name, size] : sizes) {
		std::optional<int64> id = archive_backup_id(name);
		if (!id || names.count(record_name(name)))
			continue;
		pg_call([] { CHECK_FOR_INTERRUPTS(); });
		Candidate c;
		FoundBackup &fb = c.found;
		fb.object_name = name;
		fb.state = "no_record";
		fb.original_id = id;
		fb.size_bytes = static_cast<int64>(size);
		{
			AsExtensionOwner owner;
			auto known = spi_query("SELECT c.backup_id FROM tenant_backup.backup_copies c "
			                       "WHERE c.repository = $1 AND c.object_name = $2 "
			                       "UNION ALL SELECT b.id FROM tenant_backup.backups b WHERE b.object_name = $2 "
			                       "LIMIT 1",
			                       {repository, name});
			if (!known.empty())
				fb.local_id = std::stoll(*known[0][0]);
		}
		fb.detail = fb.local_id ? "no record beside the archive: this catalog knows it (backup " +
		                              std::to_string(*fb.local_id) +
		                              "), and tenant_backup.backup_sync() writes its record; until then no other "
		                              "database can attach it"
		                        : std::string("no record beside the archive: attach cannot add it (an archive of "
		                                      "0.1.0 its database never described with backup_sync(), or a record "
		                                      "lost)");
		out.push_back(std::move(c));
	}
	return out;
}

} // namespace

std::string record_name(const std::string &archive_name) {
	return archive_name + kRecordSuffix;
}

bool is_description_object(const std::string &name) {
	return ends_with(name, kRecordSuffix) || ends_with(name, kKeySuffix) || ends_with(name, kTombstoneSuffix);
}

std::string tombstone_name(const std::string &archive_name) {
	return archive_name + kTombstoneSuffix;
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
	// First, a master key rotation's re-sealing not finished yet (a repository out of reach then, a
	// cancel): its key records renamed for the new key are then there for the listing below.
	reseal_repository(repository, *storage, false, done, breaks);
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
			copies = spi_query("SELECT b.id, b.object_name, b.described_at IS NOT NULL FROM tenant_backup.backups b "
			                   "JOIN tenant_backup.backup_copies c ON c.backup_id = b.id "
			                   "WHERE c.repository = $1 AND c.state = 'stored' AND b.status = 'completed' "
			                   "AND b.original_id IS NULL AND b.id > $2::bigint ORDER BY b.id LIMIT $3::int",
			                   {repository, after, std::to_string(kPart)});
		}
		after = copies.size() < static_cast<size_t>(kPart) ? std::nullopt : copies.back()[0];
		std::vector<std::string> described; // backups this repository describes now
		for (const auto &c : copies) {
			int64 id = std::stoll(*c[0]);
			const std::string &object = *c[1];
			if (!exists(object))
				continue; // missing (step 1 records that)
			if (exists(record_name(object))) {
				if (c[2].value_or("f") != "t")
					described.push_back(*c[0]); // described already (its key record: below)
				continue;
			}
			bool written = false;
			std::string error = error_of([&] {
				std::optional<std::string> body = backup_record_body(id, archive_format_of(*storage, object));
				if (!body)
					return;
				write_small(storage, record_name(object), seal(*body, kBackupRecordInfo));
				names.insert(record_name(object));
				written = true;
			});
			done(id, "write_record", record_name(object), error);
			wrote();
			if (!written)
				continue;
			// Its tenant's key record with it: a record without its key cannot be attached.
			std::string key_name;
			std::string key_error = error_of([&] {
				if (std::optional<uint32_t> generation = own_key_generation(id))
					if (ensure_key_record(storage, *generation, exists, &key_name))
						names.insert(key_name);
			});
			if (!key_name.empty() || !key_error.empty())
				done(std::nullopt, "write_key", key_name, key_error);
			if (key_error.empty())
				described.push_back(*c[0]);
		}
		mark_described(described);
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
	breaks.commit_now();
	// Tombstones that could not be written when their backup was deleted or their tenant forgotten.
	write_pending_tombstones(repository, storage, done, breaks);
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

namespace {

std::string sha256_hex(const std::string &text) {
	Sha256 hash;
	hash.update(reinterpret_cast<const uint8_t *>(text.data()), text.size());
	return hash.hex_digest();
}

} // namespace

std::vector<std::string> forget_key_records(const std::string &tenant, const std::set<std::string> &prefixes) {
	std::vector<std::string> unreachable;
	std::string hashed = sha256_hex(tenant);
	for (const std::string &repository : every_repository()) {
		if (repository_read_only(repository)) {
			unreachable.push_back(repository + ": registered read-only in this database, not changed");
			continue;
		}
		// Kept until a sync has removed them there (remove_forgotten_key_records): the removal at
		// commit below may fail, or the repository be out of reach now.
		{
			AsExtensionOwner owner;
			for (const std::string &prefix : prefixes)
				spi_query("INSERT INTO tenant_backup.pending_key_removals (repository, prefix, tenant_sha256, "
				          "forgotten_at) VALUES ($1, $2, $3, clock_timestamp()) "
				          "ON CONFLICT (repository, prefix, tenant_sha256) DO UPDATE SET forgotten_at = "
				          "excluded.forgotten_at, error = NULL",
				          {repository, prefix, hashed});
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
		if (!error.empty()) {
			AsExtensionOwner owner;
			spi_query("UPDATE tenant_backup.pending_key_removals SET error = $3 WHERE repository = $1 "
			          "AND tenant_sha256 = $2",
			          {repository, hashed, error});
			unreachable.push_back(repository + ": " + error +
			                      " (tenant_backup.backup_sync() removes them once it reaches the repository)");
		}
	}
	return unreachable;
}

void remove_forgotten_key_records(const std::string &repository, Storage &storage, const DescribeDone &done,
                                  const TransactionBreaks &breaks) {
	std::vector<SqlRow> rows;
	{
		AsExtensionOwner owner;
		rows = spi_query("SELECT prefix, tenant_sha256, forgotten_at::text FROM tenant_backup.pending_key_removals "
		                 "WHERE repository = $1 ORDER BY prefix, tenant_sha256",
		                 {repository});
	}
	int handled = 0;
	for (const auto &r : rows) {
		const std::string &prefix = *r[0], &hashed = *r[1], &forgotten_at = *r[2];
		std::vector<ObjectInfo> listed;
		std::string error = error_of([&] { breaks.run_outside([&] { listed = storage.list(prefix + "keys/"); }); });
		if (!error.empty()) // not listed: nothing known of its key records
			done(std::nullopt, "remove_key", prefix + "keys/", error);
		for (const auto &o : listed) {
			if (!error.empty())
				break; // one failure costs one attempt, as at commit
			if (!ends_with(o.name, kKeySuffix))
				continue;
			pg_call([] { CHECK_FOR_INTERRUPTS(); });
			std::string text;
			std::string failed = error_of([&] { text = read_small(storage, o.name); });
			if (!failed.empty()) { // unread, it may be the tenant's: the row stays for the next sync
				done(std::nullopt, "remove_key", o.name, failed);
				error = failed;
				continue;
			}
			size_t nl = text.find('\n');
			KeyFields k;
			if (nl == std::string::npos || read_key_fields(text.substr(0, nl), k) || sha256_hex(k.tenant) != hashed)
				continue;
			// Only the keys that existed when the tenant was forgotten: a tenant of the same name
			// backed up again since has keys of its own.
			{
				AsExtensionOwner owner;
				auto older = spi_query("SELECT coalesce(($1::jsonb->>'created_at')::timestamptz <= $2::timestamptz, "
				                       "true)",
				                       {text.substr(0, nl), forgotten_at}, true);
				if (older.at(0)[0].value_or("t") != "t")
					continue;
			}
			failed = error_of([&] { storage.remove(o.name); });
			done(std::nullopt, "remove_key", o.name, failed);
			if (!failed.empty())
				error = failed;
		}
		{
			AsExtensionOwner owner;
			if (error.empty())
				spi_query("DELETE FROM tenant_backup.pending_key_removals WHERE repository = $1 AND prefix = $2 "
				          "AND tenant_sha256 = $3",
				          {repository, prefix, hashed});
			else
				spi_query("UPDATE tenant_backup.pending_key_removals SET error = $4 WHERE repository = $1 "
				          "AND prefix = $2 AND tenant_sha256 = $3",
				          {repository, prefix, hashed, error});
		}
		if (++handled % kResealPerTransaction == 0)
			breaks.commit_now();
	}
}

std::optional<std::string> backup_tombstone_body(int64 id, const std::string &object_name, const char *reason) {
	AsExtensionOwner owner;
	auto rows = spi_query(
	    "SELECT jsonb_build_object('format', 1, 'type', 'tombstone', 'of', 'backup', 'object_name', $2::text, "
	    "  'backup_id', coalesce(b.original_id, b.id), 'tenant', b.tenant, 'sha256', b.sha256, "
	    "  'deleted_at', clock_timestamp(), 'reason', $3::text, "
	    "  'source', jsonb_build_object('database_prefix', $4::text, 'catalog_id', "
	    "     (SELECT i.id FROM tenant_backup.catalog_identity i), 'database', current_database()))::text "
	    "FROM tenant_backup.backups b WHERE b.id = $1::bigint AND b.status = 'completed' AND b.sha256 IS NOT NULL",
	    {std::to_string(id), object_name, std::string(reason), database_prefix()});
	if (rows.empty())
		return std::nullopt;
	return rows[0][0];
}

std::string write_tombstone(const std::string &repository, const std::shared_ptr<Storage> &storage,
                            const std::string &name, const std::string &body) {
	std::string error = "the repository could not be opened";
	if (storage)
		error = error_of([&] { write_small(storage, name, seal(body, kTombstoneInfo)); });
	if (!error.empty()) {
		AsExtensionOwner owner;
		spi_query("INSERT INTO tenant_backup.pending_tombstones (repository, object_name, body) "
		          "VALUES ($1, $2, $3) ON CONFLICT (repository, object_name) DO NOTHING",
		          {repository, name, body});
	}
	return error;
}

std::vector<std::string> tombstone_tenant(const std::string &tenant, const std::set<std::string> &prefixes) {
	std::vector<std::string> waiting;
	Sha256 hash;
	hash.update(reinterpret_cast<const uint8_t *>(tenant.data()), tenant.size());
	std::string hashed = hash.hex_digest();
	for (const std::string &repository : every_repository()) {
		if (repository_read_only(repository))
			continue; // forget_key_records says so
		std::shared_ptr<Storage> storage;
		std::string error = error_of([&] { storage = open_storage(repository, true); });
		for (const std::string &prefix : prefixes) {
			std::string body;
			{
				AsExtensionOwner owner;
				body =
				    *spi_query("SELECT jsonb_build_object('format', 1, 'type', 'tombstone', 'of', 'tenant', "
				               "  'tenant', $1::text, 'database_prefix', $2::text, 'forgotten_at', clock_timestamp(), "
				               "  'source', jsonb_build_object('database_prefix', $3::text, 'catalog_id', "
				               "     (SELECT i.id FROM tenant_backup.catalog_identity i), "
				               "     'database', current_database()))::text",
				               {tenant, prefix, database_prefix()})
				         .at(0)[0];
			}
			uint8_t random[8];
			crypto::random_bytes(random, sizeof(random));
			std::string name =
			    prefix + "tombstones/" + hashed + "-" + to_hex(random, sizeof(random)) + kTombstoneSuffix;
			std::string failed = write_tombstone(repository, storage, name, body);
			if (error.empty())
				error = failed;
		}
		if (!error.empty())
			waiting.push_back(repository + ": " + error);
	}
	return waiting;
}

void write_pending_tombstones(
    const std::string &repository, const std::shared_ptr<Storage> &storage,
    const std::function<void(std::optional<int64>, const char *, const std::string &, const std::string &)> &done,
    const TransactionBreaks &breaks) {
	std::vector<SqlRow> rows;
	{
		AsExtensionOwner owner;
		rows = spi_query("SELECT object_name, body FROM tenant_backup.pending_tombstones WHERE repository = $1 "
		                 "ORDER BY object_name",
		                 {repository});
	}
	int written = 0;
	for (const auto &r : rows) {
		std::string error = error_of([&] { write_small(storage, *r[0], seal(*r[1], kTombstoneInfo)); });
		if (error.empty()) {
			AsExtensionOwner owner;
			spi_query("DELETE FROM tenant_backup.pending_tombstones WHERE repository = $1 AND object_name = $2",
			          {repository, *r[0]});
		}
		done(std::nullopt, "write_tombstone", *r[0], error);
		if (++written % kResealPerTransaction == 0)
			breaks.commit_now();
	}
}

namespace {

// Re-seals one object under the current master key (masters[0]) when it is sealed under another
// configured one, re-wrapping a key record's data key too (a new object name, the old object
// removed once the new one is there). Returns the action taken (nullptr: none needed) and, when it
// could not be re-sealed because it does not pass its check, why (then it is left as it is).
std::pair<const char *, std::string> reseal_object(Storage &storage, const std::string &name,
                                                   const std::string &current) {
	const bool is_key = ends_with(name, kKeySuffix);
	const char *info = is_key ? kKeyRecordInfo : ends_with(name, kTombstoneSuffix) ? kTombstoneInfo : kBackupRecordInfo;
	std::string text = read_small(storage, name);
	size_t nl = text.find('\n');
	if (nl == std::string::npos)
		return {nullptr, "the record is truncated"};
	if (text.compare(nl + 1, std::string::npos, "unauthenticated\n") == 0)
		return {nullptr, ""}; // written without a master key: not ours to vouch for now
	bool sealed_current = text.compare(nl + 1, 12 + current.size(), "hmac-sha256 " + current) == 0;
	if (sealed_current && !is_key)
		return {nullptr, ""};
	Unsealed u = unseal(text, info);
	if (!u.problem.empty())
		return {nullptr, u.problem};
	if (!is_key) {
		write_now(storage, name, seal(u.body, info));
		return {"reseal_record", ""};
	}
	KeyFields k;
	if (std::optional<std::string> bad = read_key_fields(u.body, k))
		return {nullptr, *bad};
	if (sealed_current && k.master_key_id == current)
		return {nullptr, ""};
	std::vector<uint8_t> wrapped;
	try {
		wrapped = rewrap_found_key(k.tenant, *k.generation, from_hex(k.wrapped_hex), k.master_key_id);
	} catch (const SqlError &e) {
		return {nullptr, e.what()};
	} catch (const Error &e) {
		if (e.kind() == ErrorKind::Cancelled)
			throw;
		return {nullptr, e.what()};
	}
	std::string body;
	{
		AsExtensionOwner owner;
		body = *spi_query("SELECT jsonb_set(jsonb_set($1::jsonb, '{wrapped_key}', to_jsonb($2::text)), "
		                  "'{master_key_id}', to_jsonb($3::text))::text",
		                  {u.body, to_hex(wrapped.data(), wrapped.size()), current})
		            .at(0)[0];
	}
	// "<prefix>keys/<catalog id>/<generation>-<master key id>.key"
	std::string renamed =
	    name.substr(0, name.rfind('/') + 1) + std::to_string(*k.generation) + "-" + current + kKeySuffix;
	write_now(storage, renamed, seal(body, kKeyRecordInfo));
	if (renamed != name)
		storage.remove(name); // after the new one is there: one of them opens at every moment
	return {"rewrap_key", ""};
}

// Where a pass of a repository stands (tenant_backup.repository_reseal): begun by a rotation,
// gone on with by the sync until finished. Returns the name to go on after, or nullopt: no pass.
std::optional<std::string> reseal_pass(const std::string &repository, const std::string &current, bool begin) {
	AsExtensionOwner owner;
	auto rows = spi_query("SELECT resealed_through, master_key_id FROM tenant_backup.repository_reseal "
	                      "WHERE repository = $1 AND finished_at IS NULL",
	                      {repository});
	if (!begin && rows.empty())
		return std::nullopt;
	// The same rotation interrupted goes on where it stopped; another starts from the beginning.
	std::string after = !rows.empty() && *rows[0][1] == current ? *rows[0][0] : "";
	spi_query("INSERT INTO tenant_backup.repository_reseal (repository, master_key_id, resealed_through) "
	          "VALUES ($1, $2, $3) ON CONFLICT (repository) DO UPDATE SET master_key_id = excluded.master_key_id, "
	          "resealed_through = excluded.resealed_through, finished_at = NULL, "
	          "started_at = CASE WHEN repository_reseal.finished_at IS NULL THEN repository_reseal.started_at "
	          "ELSE now() END",
	          {repository, current, after});
	return after;
}

void reseal_progress(const std::string &repository, const std::string &through, bool finished,
                     const std::string &error) {
	AsExtensionOwner owner;
	spi_query("UPDATE tenant_backup.repository_reseal SET resealed_through = $2, "
	          "finished_at = CASE WHEN $3::boolean THEN now() END, error = nullif($4, '') WHERE repository = $1",
	          {repository, through, finished ? "t" : "f", error});
}

// The database prefixes whose records this database re-seals: its own (every catalog it had), and
// those of the databases it attached backups from.
std::set<std::string> resealed_prefixes() {
	std::set<std::string> prefixes{database_prefix()};
	AsExtensionOwner owner;
	for (const auto &row : spi_query("SELECT DISTINCT source->>'database_prefix' FROM tenant_backup.backups "
	                                 "WHERE source->>'database_prefix' IS NOT NULL"))
		prefixes.insert(*row[0]);
	return prefixes;
}

} // namespace

ResealCounts reseal_repository(
    const std::string &repository, Storage &storage, bool begin,
    const std::function<void(std::optional<int64>, const char *, const std::string &, const std::string &)> &done,
    const TransactionBreaks &breaks) {
	ResealCounts counts;
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		return counts;
	std::string current = crypto::key_id(masters[0]);
	std::fill(masters.begin(), masters.end(), crypto::Key{});
	std::optional<std::string> after = reseal_pass(repository, current, begin);
	if (!after)
		return counts;
	counts.pass = true;
	std::set<std::string> prefixes = resealed_prefixes();
	std::set<std::string> names;
	std::string listing = error_of([&] {
		breaks.run_outside([&] {
			for (const std::string &prefix : prefixes)
				for (const auto &o : storage.list(prefix))
					if (is_description_object(o.name) && o.name > *after)
						names.insert(o.name);
		});
	});
	if (!listing.empty()) {
		counts.failed++;
		counts.first_error = listing;
		reseal_progress(repository, *after, false, listing);
		return counts;
	}
	std::string through = *after;
	int seen = 0;
	for (const std::string &name : names) {
		pg_call([] { CHECK_FOR_INTERRUPTS(); });
		std::pair<const char *, std::string> outcome{nullptr, ""};
		std::string error = error_of([&] { outcome = reseal_object(storage, name, current); });
		if (!error.empty()) {
			counts.failed++;
			if (counts.first_error.empty())
				counts.first_error = name + ": " + error;
			done(std::nullopt, "reseal_record", name, error);
		} else if (!outcome.second.empty()) {
			counts.left++; // does not pass its check: never re-sealed, and no reason to stop the pass
			done(std::nullopt, "reseal_record", name, "left as it is: " + outcome.second);
		} else if (outcome.first) {
			(std::string(outcome.first) == "rewrap_key" ? counts.rewrapped : counts.resealed)++;
			done(std::nullopt, outcome.first, name, "");
		}
		through = name;
		if (++seen % kResealPerTransaction == 0) {
			if (counts.failed == 0) // where the next pass goes on, should this one be interrupted
				reseal_progress(repository, through, false, "");
			breaks.commit_now();
		}
	}
	// A pass with failures starts again from the beginning next time (what is done is skipped
	// then, being sealed under the current key); one without is finished.
	counts.finished = counts.failed == 0;
	reseal_progress(repository, counts.finished ? through : "", counts.finished, counts.first_error);
	return counts;
}

ResealSummary reseal_every_repository() {
	ResealSummary summary;
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		return summary;
	std::string current = crypto::key_id(masters[0]);
	{
		AsExtensionOwner owner; // passes of repositories removed since are nobody's to finish
		spi_query("DELETE FROM tenant_backup.repository_reseal r WHERE r.repository <> $1 AND NOT EXISTS "
		          "(SELECT 1 FROM tenant_backup.repositories p WHERE p.name = r.repository)",
		          {std::string(kLocalRepository)});
	}
	for (const std::string &repository : every_repository()) {
		if (repository_read_only(repository)) {
			summary.read_only.push_back(repository); // another database's, never written here
			continue;
		}
		std::shared_ptr<Storage> storage;
		std::string error = error_of([&] { storage = open_storage(repository, true); });
		ResealCounts c;
		if (error.empty())
			c = reseal_repository(repository, *storage, true,
			                      [](std::optional<int64>, const char *, const std::string &, const std::string &) {});
		else {
			reseal_pass(repository, current, true); // begun: backup_sync() goes on with it
			reseal_progress(repository, "", false, error);
			c.failed = 1;
			c.first_error = error;
		}
		summary.repositories++;
		summary.resealed += c.resealed;
		summary.rewrapped += c.rewrapped;
		summary.left += c.left;
		if (c.failed)
			summary.unfinished.push_back(repository + ": " + c.first_error);
	}
	return summary;
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
                                           const std::string &source_database, bool allow_deleted) {
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
		if (c.found.state == "deleted" || c.found.state == "forgotten") {
			if (!allow_deleted) {
				out.push_back({c.found, std::nullopt, "refused", c.found.detail});
				continue;
			}
			c.found.state = c.base_state; // on the caller's word: as if there were no tombstone
			c.found.detail = c.base_detail;
		}
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
