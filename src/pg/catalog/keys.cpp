#include "pg/catalog/permissions.hpp"
#include "pg/catalog/keys.hpp"

#include "core/crypto/master_keys.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>

extern "C" {
#include "port.h"
#include "storage/fd.h"
}

namespace tb::pg {

namespace {

// Associated data of a wrapped key: a key wrapped for one tenant and generation cannot be passed
// off as another's.
std::string wrap_context(const std::string &tenant, uint32_t generation) {
	return "tenant:" + tenant + "\ngeneration:" + std::to_string(generation);
}

std::string run_key_command(const std::string &command) {
	struct {
		char *output;
		int status;
	} result{};
	const char *cmd = command.c_str();
	pg_call([&] {
		FILE *pipe = OpenPipeStream(cmd, "r");
		if (!pipe)
			ereport(ERROR,
			        (errcode_for_file_access(), errmsg("could not run tenant_backup.encryption_key_command: %m")));
		StringInfoData buf;
		initStringInfo(&buf);
		char chunk[1024];
		size_t n;
		// Read to the end (a command blocked on a full pipe would never exit), keeping 64 kB.
		while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
			if (buf.len < 65536)
				appendBinaryStringInfo(&buf, chunk, static_cast<int>(n));
		result.status = ClosePipeStream(pipe);
		result.output = buf.data;
	});
	if (result.status != 0) {
		const char *why = pg_eval([&] { return static_cast<const char *>(wait_result_to_str(result.status)); });
		throw SqlError(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
		               std::string("tenant_backup.encryption_key_command failed: ") + why);
	}
	return result.output;
}

Datum bytea_datum(const std::vector<uint8_t> &bytes) {
	const uint8_t *data = bytes.data();
	size_t len = bytes.size();
	return pg_eval([=] {
		bytea *b = static_cast<bytea *>(palloc(VARHDRSZ + len));
		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), data, len);
		return PointerGetDatum(b);
	});
}

// Row `row` of the last SPI result: generation, wrapped key, master key id.
struct StoredKey {
	uint32_t generation;
	std::vector<uint8_t> wrapped;
	std::string master_id;
};

StoredKey stored_key(uint64 row) {
	struct {
		int32 generation;
		char *data;
		int len;
		char *master_id;
	} raw{};
	pg_call([&] {
		bool isnull;
		raw.generation = DatumGetInt32(spi_datum(row, 1, &isnull));
		bytea *b = DatumGetByteaPP(spi_datum(row, 2, &isnull));
		raw.data = VARDATA_ANY(b);
		raw.len = VARSIZE_ANY_EXHDR(b);
		raw.master_id = spi_text(row, 3);
	});
	return {
	    static_cast<uint32_t>(raw.generation),
	    std::vector<uint8_t>(reinterpret_cast<uint8_t *>(raw.data), reinterpret_cast<uint8_t *>(raw.data) + raw.len),
	    raw.master_id};
}

const crypto::Key *find_master(const std::vector<crypto::Key> &masters, const std::string &id) {
	for (const auto &m : masters)
		if (crypto::key_id(m) == id)
			return &m;
	return nullptr;
}

} // namespace

namespace {

// Master keys read in the current transaction, so that backing up many tenants in one statement
// runs the key command (or reads the key file) once; forgotten when the transaction ends.
struct KeyCache {
	bool valid = false;
	std::string command, file; // the settings they were read with
	std::vector<crypto::Key> keys;
} key_cache;

void forget_cached_keys(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
	    event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE) {
		std::fill(key_cache.keys.begin(), key_cache.keys.end(), crypto::Key{});
		key_cache.keys.clear();
		key_cache.valid = false;
	}
}

} // namespace

void register_key_cache_callbacks() {
	RegisterXactCallback(forget_cached_keys, nullptr);
}

std::vector<crypto::Key> load_master_keys() {
	std::string command = setting_key_command(), file = setting_key_file();
	if (key_cache.valid && key_cache.command == command && key_cache.file == file)
		return key_cache.keys;
	std::vector<crypto::Key> keys;
	if (!command.empty())
		keys = crypto::parse_key_list(run_key_command(command), "tenant_backup.encryption_key_command output");
	else if (!file.empty())
		keys = crypto::read_key_file(file, pg_eval([] { return static_cast<const char *>(DataDir); }));
	key_cache = {true, command, file, keys};
	return keys;
}

std::optional<DataKey> current_data_key(const std::string &tenant) {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		return std::nullopt;
	SqlParams of_tenant = {tenant};
	uint64 found = pg_eval([&] {
		return spi_run("SELECT generation, wrapped_key, master_key_id FROM tenant_backup.tenant_keys "
		               "WHERE tenant = $1 AND origin IS NULL ORDER BY generation DESC LIMIT 1",
		               of_tenant, false, SPI_OK_SELECT);
	});
	if (found) {
		StoredKey k = stored_key(0);
		const crypto::Key *master = find_master(masters, k.master_id);
		if (!master)
			throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			               "the key of tenant \"" + tenant + "\" is wrapped by master key " + k.master_id +
			                   ", which is not configured",
			               "", "Add that key to the key source, then run tenant_backup.backup_rotate_master_key().");
		return DataKey{k.generation, crypto::unwrap_key(*master, k.wrapped, wrap_context(tenant, k.generation))};
	}
	crypto::Key key;
	crypto::random_bytes(key.data(), key.size());
	uint32_t generation = static_cast<uint32_t>(pg_eval([] {
		spi_run("SELECT nextval('tenant_backup.tenant_keys_generation_seq')::int", SqlParams::none(), false,
		        SPI_OK_SELECT);
		bool isnull;
		return DatumGetInt32(spi_datum(0, 1, &isnull));
	}));
	Datum wrapped = bytea_datum(crypto::wrap_key(masters[0], key, wrap_context(tenant, generation)));
	SqlParams row;
	row.text(tenant).int4(static_cast<int32>(generation)).datum(BYTEAOID, wrapped).text(crypto::key_id(masters[0]));
	pg_call([&] {
		spi_run("INSERT INTO tenant_backup.tenant_keys (tenant, generation, wrapped_key, master_key_id) "
		        "VALUES ($1, $2, $3, $4)",
		        row, false, SPI_OK_INSERT);
	});
	return DataKey{generation, key};
}

crypto::Key data_key(const std::string &tenant, uint32_t generation, int64_t backup_id) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams key = SqlParams().text(tenant).int4(static_cast<int32>(generation));
	uint64 found = pg_eval([&] {
		return spi_run("SELECT generation, wrapped_key, master_key_id FROM tenant_backup.tenant_keys "
		               "WHERE tenant = $1 AND generation = $2",
		               key, false, SPI_OK_SELECT);
	});
	std::string backup = "backup " + std::to_string(backup_id);
	if (!found)
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               backup + " cannot be decrypted: the key of tenant \"" + tenant + "\" (generation " +
		                   std::to_string(generation) + ") has been destroyed");
	StoredKey k = stored_key(0);
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               backup + " is encrypted and no encryption key is configured", "",
		               "Set tenant_backup.encryption_key_file or tenant_backup.encryption_key_command.");
	const crypto::Key *master = find_master(masters, k.master_id);
	if (!master)
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               backup + " cannot be decrypted: its tenant key is wrapped by master key " + k.master_id +
		                   ", which is not configured");
	return crypto::unwrap_key(*master, k.wrapped, wrap_context(tenant, generation));
}

crypto::Key unwrap_found_key(const std::string &tenant, uint32_t generation, const std::vector<uint8_t> &wrapped,
                             const std::string &master_key_id) {
	std::vector<crypto::Key> masters = load_master_keys();
	const crypto::Key *master = find_master(masters, master_key_id);
	if (!master)
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "the key of tenant \"" + tenant +
		                                                             "\" is wrapped by master key " + master_key_id +
		                                                             ", which is not configured");
	return crypto::unwrap_key(*master, wrapped, wrap_context(tenant, generation));
}

std::vector<uint8_t> rewrap_found_key(const std::string &tenant, uint32_t generation,
                                      const std::vector<uint8_t> &wrapped, const std::string &master_key_id) {
	crypto::Key key = unwrap_found_key(tenant, generation, wrapped, master_key_id);
	std::vector<crypto::Key> masters = load_master_keys(); // not empty: one of them unwrapped it
	std::vector<uint8_t> out = crypto::wrap_key(masters[0], key, wrap_context(tenant, generation));
	std::fill(key.begin(), key.end(), 0);
	return out;
}

uint32_t adopt_data_key(const std::string &tenant, const std::string &origin, const crypto::Key &key) {
	AsExtensionOwner owner; // the catalog is the extension's own
	auto found = spi_query("SELECT generation FROM tenant_backup.tenant_keys WHERE origin = $1 AND tenant = $2",
	                       {origin, tenant});
	if (!found.empty())
		return static_cast<uint32_t>(std::stoul(*found[0][0]));
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "no encryption key is configured");
	uint32_t generation = static_cast<uint32_t>(
	    std::stoul(*spi_query("SELECT nextval('tenant_backup.tenant_keys_generation_seq')::int")[0][0]));
	Datum wrapped = bytea_datum(crypto::wrap_key(masters[0], key, wrap_context(tenant, generation)));
	SqlParams row;
	row.text(tenant).int4(static_cast<int32>(generation)).datum(BYTEAOID, wrapped).text(crypto::key_id(masters[0]));
	row.text(origin);
	pg_call([&] {
		spi_run("INSERT INTO tenant_backup.tenant_keys (tenant, generation, wrapped_key, master_key_id, origin) "
		        "VALUES ($1, $2, $3, $4, $5)",
		        row, false, SPI_OK_INSERT);
	});
	return generation;
}

int64_t rewrap_data_keys() {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::vector<crypto::Key> masters = load_master_keys();
	if (masters.empty())
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "no encryption key is configured", "",
		               "Set tenant_backup.encryption_key_file or tenant_backup.encryption_key_command.");
	std::string current_id = crypto::key_id(masters[0]);
	SqlParams not_current = {current_id};
	uint64 rows = pg_eval([&] {
		return spi_run("SELECT generation, wrapped_key, master_key_id, tenant FROM tenant_backup.tenant_keys "
		               "WHERE master_key_id <> $1 ORDER BY generation FOR UPDATE",
		               not_current, false, SPI_OK_SELECT);
	});
	struct Rewrap {
		std::string tenant;
		StoredKey key;
	};
	std::vector<Rewrap> todo;
	for (uint64 r = 0; r < rows; r++) {
		char *tenant = pg_eval([r] { return spi_text(r, 4); });
		todo.push_back({tenant, stored_key(r)});
	}
	for (const auto &item : todo) {
		const crypto::Key *old_master = find_master(masters, item.key.master_id);
		if (!old_master)
			throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			               "cannot re-wrap the key of tenant \"" + item.tenant + "\" (generation " +
			                   std::to_string(item.key.generation) + "): master key " + item.key.master_id +
			                   " is not configured; nothing was changed",
			               "", "List the old master key after the new one in the key source, rotate, then remove it.");
		std::string context = wrap_context(item.tenant, item.key.generation);
		crypto::Key data = crypto::unwrap_key(*old_master, item.key.wrapped, context);
		Datum wrapped = bytea_datum(crypto::wrap_key(masters[0], data, context));
		SqlParams rewrapped;
		rewrapped.datum(BYTEAOID, wrapped).text(current_id).int4(static_cast<int32>(item.key.generation));
		pg_call([&] {
			spi_run("UPDATE tenant_backup.tenant_keys SET wrapped_key = $1, master_key_id = $2, rotated_at = now() "
			        "WHERE generation = $3",
			        rewrapped, false, SPI_OK_UPDATE);
		});
	}
	return static_cast<int64_t>(todo.size());
}

int64_t destroy_data_keys(const std::string &tenant) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams of_tenant = {tenant};
	return static_cast<int64_t>(pg_eval([&] {
		return spi_run("DELETE FROM tenant_backup.tenant_keys WHERE tenant = $1", of_tenant, false, SPI_OK_DELETE);
	}));
}

} // namespace tb::pg
