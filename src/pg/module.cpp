// Library entry: module magic, settings and transaction callbacks.
#include "pg/pending_objects.hpp"
#include "pg/pg_headers.hpp"
#include "pg/settings.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
	tb::pg::define_settings();
	tb::pg::register_transaction_callbacks();
}
