// Passes binary COPY tuples through unchanged while checking that one field of every tuple holds
// exactly the expected bytes: a restore proves, as it loads, that every archived row carries the
// backup's tenant (an archive made while a user-defined operator widened the backup's WHERE, or
// crafted otherwise, cannot put another tenant's rows in place).
#pragma once
#include "core/archive/copy_binary.hpp"

#include <string>
#include <vector>

namespace tb::archive {

class TenantFieldCheck : public Source {
public:
	// fields: the tuples' field count; index: the tenant field; expected: its bytes as the
	// column type's send function writes the tenant value; table: named in the error.
	TenantFieldCheck(Source &tuples, size_t fields, size_t index, std::string expected, std::string table);
	// Throws Error(Corrupt) naming the table and the row (1-based) that holds another value.
	size_t read(uint8_t *buf, size_t cap) override;
	uint64_t rows() const { return rows_; }
	// The checked tuples one by one instead, split into fields (read() is then not called).
	bool next(std::vector<CopyTupleReader::Field> &fields);
	const std::string &raw() const { return reader_.raw(); }

private:
	bool next_tuple(); // checked, into out_; false at the end
	CopyTupleReader reader_;
	size_t index_;
	std::string expected_, table_;
	std::vector<CopyTupleReader::Field> fields_;
	std::string out_;
	size_t out_pos_ = 0;
	uint64_t rows_ = 0;
	bool done_ = false;
};

} // namespace tb::archive
