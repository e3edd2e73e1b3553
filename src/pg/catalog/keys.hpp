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

// Re-wraps every data key not wrapped under the current master key; returns how many.
int64_t rewrap_data_keys();

// Destroys every data key of the tenant; returns how many.
int64_t destroy_data_keys(const std::string &tenant);

} // namespace tb::pg
