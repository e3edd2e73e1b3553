// Envelope encryption: every tenant has its own random data key, stored only wrapped (AES-256-GCM)
// under a master key in tenant_backup.tenant_keys; master keys come from
// tenant_backup.encryption_key_command or tenant_backup.encryption_key_file and never touch the
// database. Needs SPI connected.
#pragma once
#include "core/crypto/chunk_cipher.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

// Master keys are read once per transaction; this registers forgetting them at its end.
void register_key_cache_callbacks();

// The configured master keys, current first; empty when none is configured.
std::vector<crypto::Key> load_master_keys();

struct DataKey {
	uint32_t generation;
	crypto::Key key;
};

// The tenant's current data key, created on first use and wrapped under the current master key;
// nullopt when no master key is configured (backups are then not encrypted).
std::optional<DataKey> current_data_key(const std::string &tenant);

// The data key of one generation, to read an archive of backup_id; clear errors when the tenant
// was forgotten, no key is configured, or no configured master key can unwrap it.
crypto::Key data_key(const std::string &tenant, uint32_t generation, int64_t backup_id);

// A data key found in a repository's key record (self_description.hpp): unwrapped with the
// configured master key of that id, bound to the tenant and generation it was wrapped for.
// Throws a clear error when that master key is not configured or does not unwrap it.
crypto::Key unwrap_found_key(const std::string &tenant, uint32_t generation, const std::vector<uint8_t> &wrapped,
                             const std::string &master_key_id);

// A data key found in a repository's key record, unwrapped as unwrap_found_key does and wrapped
// again under the current master key (for the same tenant and generation): the re-wrap of master
// key rotation (self_description.hpp, reseal_repository).
std::vector<uint8_t> rewrap_found_key(const std::string &tenant, uint32_t generation,
                                      const std::vector<uint8_t> &wrapped, const std::string &master_key_id);

// Keeps an attached backup's data key in tenant_backup.tenant_keys under a generation of this
// database, wrapped under the current master key, with its origin ("<catalog id>:<generation>")
// so that the backups of one key share one row; never the tenant's current key (new backups get a
// key of their own). Returns the local generation.
uint32_t adopt_data_key(const std::string &tenant, const std::string &origin, const crypto::Key &key);

// Re-wraps every data key not wrapped under the current master key; returns how many.
int64_t rewrap_data_keys();

// Destroys every data key of the tenant; returns how many.
int64_t destroy_data_keys(const std::string &tenant);

} // namespace tb::pg
