#include "pg/boundary/standby.hpp"

#include "pg/boundary/guard.hpp"

#include <string>

extern "C" {
#include "access/xlog.h"
}

namespace tb::pg {

bool on_standby() {
	return pg_eval([] { return RecoveryInProgress(); });
}

void refuse_on_standby(const char *function) {
	if (!on_standby())
		return;
	throw SqlError(ERRCODE_READ_ONLY_SQL_TRANSACTION,
	               "tenant_backup." + std::string(function) + " cannot run on a hot standby",
	               "This server is a standby in recovery: it serves listings, status, downloads, CSV exports and "
	               "verification, and writes nothing.",
	               "Call it on the primary.");
}

} // namespace tb::pg
