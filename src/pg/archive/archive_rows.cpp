#include "pg/archive/archive_rows.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/search_path.hpp"
#include "pg/archive/type_code.hpp"

extern "C" {
#include "funcapi.h"
#include "parser/parse_type.h"
}

namespace tb::pg {

ArchiveRowDecoder::ArchiveRowDecoder(archive::ArchiveReader &reader, const archive::TableHeader &table)
    : table_(table), source_(reader), tuples_(source_, table.columns.size()), columns_(table.columns.size()),
      values_(table.columns.size()), nulls_(new bool[table.columns.size() + 1]()) {
	for (size_t i = 0; i < table.columns.size(); i++) {
		const char *type = table.columns[i].type.c_str();
		Column *c = &columns_[i];
		pg_call([type, c] { c->init(type, false); });
	}
	row_context_ = pg_eval([] {
		return AllocSetContextCreate(CurrentMemoryContext, "tenant_backup archived row", ALLOCSET_DEFAULT_SIZES);
	});
}

ArchiveRowDecoder::~ArchiveRowDecoder() {
	MemoryContext context = row_context_;
	try {
		pg_call([context] { MemoryContextDelete(context); });
	} catch (...) {
		// Deleting a context does not fail; and the transaction's end frees it anyway.
	}
}

bool ArchivedType::init(const char *type, bool missing_ok) {
	parseTypeString(type, &typid, &typmod, missing_ok);
	if (!OidIsValid(typid))
		return false;
	// A domain is read as its base type: domain_recv would run its CHECK constraints,
	// functions of the domain's owner, with the caller's (a superuser's) privileges.
	decode_typmod = typmod;
	decode_typid = decoding_type(typid, &decode_typmod);
	// An array, composite or range of a domain still runs them: as the type's owner.
	run_as = code_owner(decode_typid);
	Oid receive_fn;
	getTypeBinaryInputInfo(decode_typid, &receive_fn, &ioparam);
	fmgr_info(receive_fn, &receive);
	return true;
}

namespace {

// As PostgreSQL runs maintenance on another role's table (VACUUM, REFRESH MATERIALIZED VIEW):
// as that role, in a security-restricted operation, with its setting changes undone. On an error
// the user is restored at once, before any C++ unwinds (the abort undoes the settings). Plain
// PostgreSQL calls; no object with a destructor lives across the PG_TRY.
Datum receive_as_owner(ArchivedType &c, StringInfo buf) {
	Oid saved_user;
	int saved_context;
	GetUserIdAndSecContext(&saved_user, &saved_context);
	int level = pin_search_path_in_new_level();
	SetUserIdAndSecContext(c.run_as, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	Datum value = 0;
	PG_TRY();
	{ value = ReceiveFunctionCall(&c.receive, buf, c.ioparam, c.decode_typmod); }
	PG_CATCH();
	{
		SetUserIdAndSecContext(saved_user, saved_context);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(false, level);
	SetUserIdAndSecContext(saved_user, saved_context);
	return value;
}

} // namespace

Datum ArchivedType::decode(const uint8_t *data, int32 length, const char *column) {
	StringInfoData buf;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, reinterpret_cast<const char *>(data), length);
	Datum value = OidIsValid(run_as) ? receive_as_owner(*this, &buf)
	                                 : ReceiveFunctionCall(&receive, &buf, ioparam, decode_typmod);
	if (buf.cursor != buf.len)
		ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
		                errmsg("incorrect binary data format in column \"%s\"", column)));
	return value;
}

bool ArchiveRowDecoder::next() {
	if (!tuples_.next(fields_))
		return false;
	pg_call([this] {
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(row_context_);
		MemoryContext old = MemoryContextSwitchTo(row_context_);
		for (size_t i = 0; i < fields_.size(); i++) {
			nulls_[i] = fields_[i].length < 0;
			if (nulls_[i]) {
				values_[i] = 0;
				continue;
			}
			values_[i] = columns_[i].decode(fields_[i].data, fields_[i].length, table_.columns[i].name.c_str());
		}
		MemoryContextSwitchTo(old);
	});
	rows_++;
	return true;
}

TupleDesc ArchiveRowDecoder::tuple_desc() {
	if (desc_)
		return desc_;
	desc_ = pg_eval([this] {
		TupleDesc desc = CreateTemplateTupleDesc(static_cast<int>(columns_.size()));
		for (size_t i = 0; i < columns_.size(); i++)
			TupleDescInitEntry(desc, static_cast<AttrNumber>(i + 1), table_.columns[i].name.c_str(), columns_[i].typid,
			                   columns_[i].typmod, 0);
		return BlessTupleDesc(desc);
	});
	return desc_;
}

} // namespace tb::pg
