// The archived rows of one table as every restore path reads them (restore, preview, diff): each
// row checked, before anything loads it, to hold the backup's tenant (tables with a tenant column;
// rows found through a path are checked after loading), mapped onto the table as it is now (the
// plan's column mapping, column_mapping.hpp: dropped columns left out, changed types converted).
#pragma once
#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/archive/tenant_field_check.hpp"
#include "pg/archive/column_mapping.hpp"
#include "pg/archive/foreign_keys.hpp"

#include <memory>

namespace tb::pg {

class ArchivedTuples {
public:
	// Reads the reader's current table (`table`), planned as `restored`; `consequence` ends its
	// errors (a drill's: "the restore would fail").
	ArchivedTuples(archive::ArchiveReader &reader, const archive::TableHeader &table, const RestoredTable &restored,
	               int64 backup_id, const std::string &consequence = "nothing was restored");
	// The checked tuples of the plan's load columns, without COPY's header (load_into_citus).
	Source &tuples() { return *tuples_; }
	// The tenant check of the rows, nullptr for rows found through a path (for progress counts).
	const archive::TenantFieldCheck *tenant_check() const { return tenant_rows_.get(); }
	// The same as a binary COPY stream (copy_into).
	Source &copy_stream() { return *frame_; }
	// Or the checked tuples one by one, split into fields (a comparison's), without copying them
	// into a stream; raw() is the tuple's bytes. Use one of the three ways only.
	bool next(std::vector<archive::CopyTupleReader::Field> &fields);
	const std::string &raw() const { return tenant_rows_ ? tenant_rows_->raw() : reader_->raw(); }

private:
	archive::TableRows rows_;
	std::unique_ptr<MappedTuples> mapped_;
	std::unique_ptr<archive::TenantFieldCheck> tenant_rows_;
	Source *tuples_ = nullptr;
	std::unique_ptr<archive::CopyBinaryFrame> frame_;
	std::unique_ptr<archive::CopyTupleReader> reader_; // next() of rows without a tenant column
	size_t fields_ = 0;
};

} // namespace tb::pg
