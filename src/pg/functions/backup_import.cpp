// tenant_backup.backup_import(document text) RETURNS bigint
// tenant_backup.backup_import_large_object(document oid) RETURNS bigint
//
// Bring a downloaded JSON document back as a backup of kind 'imported' (archive/document_import.hpp).
// The large-object form reads a document uploaded with lo_import (psql's \lo_import), byte for
// byte and in pieces.
#include "pg/archive/document_import.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"

#include <algorithm>

extern "C" {
#include "libpq/libpq-fs.h"
#include "libpq/be-fsstubs.h"
}

namespace tb::pg {

namespace {

// A large object read from its start, in pieces, through the server's lo_* functions (which
// also close its relations at transaction end); rewind() starts over under the same snapshot.
class LargeObjectSource : public Source {
public:
	explicit LargeObjectSource(Oid id) {
		fd_ = pg_eval([id] {
			return DatumGetInt32(DirectFunctionCall2(be_lo_open, ObjectIdGetDatum(id), Int32GetDatum(INV_READ)));
		});
	}
	size_t read(uint8_t *buf, size_t cap) override {
		int n = static_cast<int>(std::min<size_t>(cap, 1 << 20));
		int fd = fd_;
		return static_cast<size_t>(pg_eval([=] { return lo_read(fd, reinterpret_cast<char *>(buf), n); }));
	}
	void rewind() {
		int fd = fd_;
		pg_call(
		    [fd] { DirectFunctionCall3(be_lo_lseek64, Int32GetDatum(fd), Int64GetDatum(0), Int32GetDatum(SEEK_SET)); });
	}
	// On an error the transaction's abort closes it instead.
	void close() {
		int fd = fd_;
		pg_call([fd] { DirectFunctionCall1(be_lo_close, Int32GetDatum(fd)); });
	}

private:
	int fd_;
};

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_import) {
	refuse_on_standby("backup_import");
	AuditedAction audit("import"); // first: a refused argument is a failed attempt too
	if (PG_ARGISNULL(0))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "document must not be NULL");
	struct {
		const char *data;
		size_t len;
	} doc{};
	pg_call([&] {
		text *t = PG_GETARG_TEXT_PP(0);
		doc.data = VARDATA_ANY(t);
		doc.len = VARSIZE_ANY_EXHDR(t);
	});
	tb::BytesSource source(reinterpret_cast<const uint8_t *>(doc.data), doc.len);
	auto rewind = [&] { source.rewind(); };
	int64 id = import_document(source, rewind, audit);
	return Int64GetDatum(id);
}

TB_SQL_FUNCTION(backup_import_large_object) {
	refuse_on_standby("backup_import_large_object");
	AuditedAction audit("import"); // first: a large object that cannot be opened is a failed attempt too
	if (PG_ARGISNULL(0))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "document must not be NULL");
	Oid id = PG_GETARG_OID(0);
	LargeObjectSource source(id); // one descriptor: the second pass reads what the first checked
	auto rewind = [&] { source.rewind(); };
	int64 backup = import_document(source, rewind, audit);
	source.close();
	return Int64GetDatum(backup);
}
