#include "core/archive/tenant_field_check.hpp"

#include "core/error.hpp"

#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::archive {

TenantFieldCheck::TenantFieldCheck(Source &tuples, size_t fields, size_t index, std::string expected, std::string table)
    : reader_(tuples, fields), index_(index), expected_(std::move(expected)), table_(std::move(table)) {
	if (index_ >= fields)
		throw Error(ErrorKind::Internal, "tenant field " + std::to_string(index_) + " of " + std::to_string(fields));
}

size_t TenantFieldCheck::read(uint8_t *buf, size_t cap) {
	size_t done = 0;
	// As many tuples as fit: each read of ours is one of whoever reads us (COPY, a comparison).
	while (done < cap) {
		if (out_pos_ == out_.size() && !next_tuple())
			break;
		size_t n = std::min(cap - done, out_.size() - out_pos_);
		std::memcpy(buf + done, out_.data() + out_pos_, n);
		out_pos_ += n;
		done += n;
	}
	return done;
}

bool TenantFieldCheck::next_tuple() {
	if (!next(fields_))
		return false;
	out_ = reader_.raw(); // the tuple again, as read
	out_pos_ = 0;
	return true;
}

bool TenantFieldCheck::next(std::vector<CopyTupleReader::Field> &fields) {
	if (done_ || !reader_.next(fields)) {
		done_ = true;
		return false;
	}
	rows_++;
	const CopyTupleReader::Field &tenant = fields[index_];
	if (tenant.length < 0 || static_cast<size_t>(tenant.length) != expected_.size() ||
	    std::memcmp(tenant.data, expected_.data(), expected_.size()) != 0)
		throw Error(ErrorKind::Corrupt, "row " + std::to_string(rows_) + " of table " + table_ +
		                                    " in the archive belongs to " +
		                                    (tenant.length < 0 ? "no tenant (NULL)" : "another tenant"));
	return true;
}

} // namespace tb::archive
