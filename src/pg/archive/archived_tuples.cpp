#include "pg/archive/archived_tuples.hpp"

#include "pg/boundary/guard.hpp"

namespace tb::pg {

namespace {

// The tenant value's bytes as the tenant column's type sends it in binary COPY (built-in types
// only, see check_tenant_type): what every archived row must hold in its tenant field.
std::string tenant_bytes(Oid type, Datum tenant) {
	struct {
		const char *data;
		size_t len;
	} b{};
	pg_call([&] {
		Oid send;
		bool varlena;
		getTypeBinaryOutputInfo(type, &send, &varlena);
		bytea *bytes = OidSendFunctionCall(send, tenant);
		b.data = VARDATA(bytes);
		b.len = VARSIZE(bytes) - VARHDRSZ;
	});
	return std::string(b.data, b.len);
}

// The tenant column's place among the loaded fields (the tenant check runs on the mapped tuples,
// so that it compares values of the column's type now).
size_t tenant_field(const archive::TableHeader &table, const std::vector<std::string> &load, int64 id,
                    const std::string &display_name, const std::string &consequence) {
	for (size_t i = 0; i < load.size(); i++)
		if (load[i] == table.tenant_column)
			return i;
	throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
	                                           display_name + " lacks its tenant column \"" + table.tenant_column +
	                                           "\"; " + consequence);
}

} // namespace

ArchivedTuples::ArchivedTuples(archive::ArchiveReader &reader, const archive::TableHeader &table,
                               const RestoredTable &r, int64 backup_id, const std::string &consequence)
    : rows_(reader) {
	const TableRestorePlan &plan = r.plan;
	mapped_ = std::make_unique<MappedTuples>(rows_, table.columns, plan.mapping, plan.display_name,
	                                         "backup " + std::to_string(backup_id), consequence);
	Source *source = mapped_.get();
	// Every row must be the backup's tenant's, checked on the mapped fields before COPY sees them;
	// rows found through a path are checked after the load (ForeignKeyChecks::check_path_rows).
	if (!table.tenant_column.empty()) { // the archive's tenant column (planned alike: restore_plan.hpp)
		tenant_rows_ = std::make_unique<archive::TenantFieldCheck>(
		    *mapped_, plan.load.size(), tenant_field(table, plan.load, backup_id, plan.display_name, consequence),
		    tenant_bytes(plan.tenant_type, r.tenant), plan.display_name + " of backup " + std::to_string(backup_id));
		source = tenant_rows_.get();
	}
	tuples_ = source;
	frame_ = std::make_unique<archive::CopyBinaryFrame>(*tuples_);
	fields_ = plan.load.size();
}

bool ArchivedTuples::next(std::vector<archive::CopyTupleReader::Field> &fields) {
	if (tenant_rows_)
		return tenant_rows_->next(fields);
	if (!reader_)
		reader_ = std::make_unique<archive::CopyTupleReader>(*tuples_, fields_);
	return reader_->next(fields);
}

} // namespace tb::pg
