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
	if (out_pos_ == out_.size()) {
		if (done_ || !reader_.next(fields_)) {
			done_ = true;
			return 0;
		}
		rows_++;
		const CopyTupleReader::Field &tenant = fields_[index_];
		if (tenant.length < 0 || static_cast<size_t>(tenant.length) != expected_.size() ||
		    std::memcmp(tenant.data, expected_.data(), expected_.size()) != 0)
			throw Error(ErrorKind::Corrupt, "row " + std::to_string(rows_) + " of table " + table_ +
			                                    " in the archive belongs to " +
			                                    (tenant.length < 0 ? "no tenant (NULL)" : "another tenant"));
		// The tuple again, as read: its field count, then every field's length and bytes.
		out_.clear();
		out_pos_ = 0;
		out_.push_back(static_cast<char>(fields_.size() >> 8));
		out_.push_back(static_cast<char>(fields_.size() & 0xff));
		for (const auto &f : fields_) {
			out_.append(reinterpret_cast<const char *>(f.data) - 4, 4);
			if (f.length > 0)
				out_.append(reinterpret_cast<const char *>(f.data), static_cast<size_t>(f.length));
		}
	}
	size_t n = std::min(cap, out_.size() - out_pos_);
	std::memcpy(buf, out_.data() + out_pos_, n);
	out_pos_ += n;
	return n;
}

} // namespace tb::archive
