#include "pg/archive/streamed_diff.hpp"

#include "core/archive/copy_binary.hpp"
#include "pg/archive/archived_tuples.hpp"
#include "pg/archive/diff_apply.hpp"
#include "core/stream/helper_thread.hpp"
#include "pg/archive/tuple_encoding.hpp"
#include "pg/archive/unchanged_rows.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string_view>

extern "C" {
#include "access/transam.h"
#include "mb/pg_wchar.h"
#include "port/pg_bswap.h"
}

namespace tb::pg {

namespace {

using Field = archive::CopyTupleReader::Field;

// The key's bytes: each key field as binary COPY holds it (its length, then its bytes).
void key_of(const std::vector<Field> &fields, const std::vector<size_t> &key_fields, std::string &key) {
	key.clear();
	for (size_t f : key_fields) {
		int32_t len = fields[f].length;
		key.append(reinterpret_cast<const char *>(&len), sizeof len);
		if (len > 0)
			key.append(reinterpret_cast<const char *>(fields[f].data), static_cast<size_t>(len));
	}
}

uint32_t big_endian(const uint8_t *p) {
	return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Splits a tuple we encoded ourselves (append_copy_tuple) into its fields.
void fields_of(const uint8_t *tuple, size_t length, size_t count, std::vector<Field> &fields) {
	fields.resize(count);
	size_t pos = 2;
	for (size_t i = 0; i < count; i++) {
		if (pos + 4 > length)
			throw SqlError(ERRCODE_INTERNAL_ERROR, "tenant_backup: a row encoded for a comparison is truncated");
		auto len = static_cast<int32_t>(big_endian(tuple + pos));
		pos += 4;
		fields[i] = {tuple + pos, len};
		if (len > 0)
			pos += static_cast<size_t>(len);
	}
}

// The backup's rows of one table (or of one partition of it) by their key's bytes: open
// addressing over slots holding each row's hash, so that a probe reads one slot and, only for
// its own key, the row; keys and rows are kept in blocks, rows in a deque (their addresses stay).
class ArchivedRowTable {
public:
	enum State : uint8_t { Unseen, Same, Changed };
	struct Row {
		const char *key;
		const uint8_t *tuple;
		uint32_t key_length, length;
		State state;
		Row *same_key; // another row of the same key (a backup taken before the key existed)
		std::string_view key_view() const { return {key, key_length}; }
	};
	// Returns false when a row of the key is there already (the row is added anyway).
	bool add(std::string_view key, const uint8_t *tuple, size_t length) {
		char *stored = store(key.size() + length);
		std::memcpy(stored, key.data(), key.size());
		std::memcpy(stored + key.size(), tuple, length);
		rows_.push_back({stored, reinterpret_cast<const uint8_t *>(stored + key.size()),
		                 static_cast<uint32_t>(key.size()), static_cast<uint32_t>(length), Unseen, nullptr});
		Row *row = &rows_.back();
		if ((rows_.size() - duplicates_) * 2 > slots_.size())
			grow();
		uint64_t hash = hash_of(key);
		Slot *slot = slot_of(key, hash);
		if (slot->row) {
			row->same_key = slot->row->same_key;
			slot->row->same_key = row;
			duplicates_++;
			return false;
		}
		*slot = {row, hash};
		return true;
	}
	void reserve(size_t rows) {
		while (slots_.size() < rows * 2)
			grow();
	}
	Row *find(std::string_view key) {
		if (slots_.empty())
			return nullptr;
		return slot_of(key, hash_of(key))->row;
	}
	// What it holds, counted as a hash join counts its table: the rows' bytes, a row and its slots.
	size_t bytes() const { return stored_ + rows_.size() * sizeof(Row) + slots_.size() * sizeof(Slot); }
	size_t rows() const { return rows_.size(); }
	template <typename F> void for_each(F &&f) {
		for (auto &row : rows_)
			f(row.key_view(), row);
	}
	void clear() {
		rows_.clear();
		slots_.clear();
		blocks_.clear();
		duplicates_ = 0;
		left_ = 0;
		stored_ = 0;
	}

private:
	struct Slot {
		Row *row; // null: free
		uint64_t hash;
	};
	static constexpr size_t kBlockBytes = 1024 * 1024;
	static uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }
	// The key's slot, or the free one where it goes.
	Slot *slot_of(std::string_view key, uint64_t hash) {
		size_t mask = slots_.size() - 1;
		for (size_t i = hash & mask;; i = (i + 1) & mask) {
			Slot &s = slots_[i];
			if (!s.row || (s.hash == hash && s.row->key_view() == key))
				return &s;
		}
	}
	void grow() {
		std::vector<Slot> old(std::max<size_t>(1024, slots_.size() * 2));
		old.swap(slots_);
		size_t mask = slots_.size() - 1;
		for (const Slot &s : old)
			if (s.row) {
				size_t i = s.hash & mask;
				while (slots_[i].row)
					i = (i + 1) & mask;
				slots_[i] = s;
			}
	}
	char *store(size_t n) {
		if (n > left_) {
			size_t size = std::max(n, kBlockBytes);
			blocks_.push_back(std::make_unique<char[]>(size));
			next_ = blocks_.back().get();
			left_ = size;
		}
		char *at = next_;
		next_ += n;
		left_ -= n;
		stored_ += n;
		return at;
	}
	std::deque<Row> rows_;
	std::vector<Slot> slots_; // a power of two, at most half full
	size_t duplicates_ = 0;   // rows chained behind another of their key
	std::vector<std::unique_ptr<char[]>> blocks_;
	char *next_ = nullptr;
	size_t left_ = 0, stored_ = 0;
};

// Rows a live read may offer by their key alone (unchanged_rows.hpp): those whose xmin precedes
// `before`, its last column, encoded up to the key's last field.
struct UnchangedShortcut {
	TransactionId before;
	int key_natts;
	// The key's prefix of a row: nullopt when not known unchanged (it is then encoded whole for
	// consume), else whether to go on, as consume returns.
	std::function<std::optional<bool>(const uint8_t *, size_t)> unchanged;
};

// A DestReceiver handing each row of the tenant's, encoded as a backup encodes it, to C++.
struct LiveRowReceiver {
	DestReceiver pub; // must be first: PostgreSQL sees a DestReceiver *
	ColumnSender *senders;
	int natts; // encoded: the shortcut's xmin column is not
	StringInfoData buffer;
	MemoryContext row_context; // reset after every row: send functions palloc their output
	const std::function<bool(const uint8_t *, size_t)> *consume; // false: no more rows
	const UnchangedShortcut *shortcut;                           // or null
};

void live_startup(DestReceiver *dest, int, TupleDesc desc) {
	auto *self = reinterpret_cast<LiveRowReceiver *>(dest);
	self->natts = desc->natts - (self->shortcut ? 1 : 0);
	self->senders = column_senders_for(desc);
}

// Encodes the first `natts` columns into the buffer and hands them to `f`.
template <typename Result>
Result encoded_to(LiveRowReceiver *self, TupleTableSlot *slot, int natts,
                  const std::function<Result(const uint8_t *, size_t)> &f) {
	resetStringInfo(&self->buffer);
	MemoryContext old = MemoryContextSwitchTo(self->row_context);
	append_copy_tuple(&self->buffer, slot, self->senders, natts);
	MemoryContextSwitchTo(old);
	MemoryContextReset(self->row_context);
	const uint8_t *data = reinterpret_cast<const uint8_t *>(self->buffer.data);
	size_t len = static_cast<size_t>(self->buffer.len);
	Result result{};
	cpp_call([&f, data, len, &result] { result = f(data, len); });
	return result;
}

bool live_receive(TupleTableSlot *slot, DestReceiver *dest) {
	auto *self = reinterpret_cast<LiveRowReceiver *>(dest);
	CHECK_FOR_INTERRUPTS();
	if (const UnchangedShortcut *s = self->shortcut) {
		bool isnull;
		TransactionId xmin = DatumGetTransactionId(slot_getattr(slot, self->natts + 1, &isnull));
		if (!isnull && TransactionIdIsNormal(xmin) && TransactionIdPrecedes(xmin, s->before))
			if (std::optional<bool> more = encoded_to(self, slot, s->key_natts, s->unchanged))
				return *more; // false stops the executor
	}
	return encoded_to(self, slot, self->natts, *self->consume); // false stops the executor
}

void live_shutdown(DestReceiver *) {}
void live_destroy(DestReceiver *) {}

// Runs `sql` ($1 the tenant) with each row going to `consume` (until it returns false): under
// `snapshot`, or a new one. With a shortcut, the query's last column is the row's xmin.
void read_live_rows(const std::string &sql, Oid tenant_type, Datum tenant, Snapshot snapshot,
                    const std::function<bool(const uint8_t *, size_t)> &consume, const UnchangedShortcut *shortcut) {
	const char *query = sql.c_str();
	const auto *consumer = &consume;
	pg_call([=] {
		MemoryContext context =
		    AllocSetContextCreate(CurrentMemoryContext, "tenant_backup comparison", ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(context);
		auto *self = static_cast<LiveRowReceiver *>(palloc0(sizeof(LiveRowReceiver)));
		self->pub.receiveSlot = live_receive;
		self->pub.rStartup = live_startup;
		self->pub.rShutdown = live_shutdown;
		self->pub.rDestroy = live_destroy;
		self->pub.mydest = DestNone;
		self->consume = consumer;
		self->shortcut = shortcut;
		initStringInfo(&self->buffer);
		self->row_context = AllocSetContextCreate(context, "tenant_backup row", 0, 64 * 1024, 64 * 1024);
		MemoryContextSwitchTo(old);

		if (snapshot) {
			PushCopiedSnapshot(snapshot);
			UpdateActiveSnapshotCommandId(); // rows this transaction wrote, as the SQL join sees them
		}
		spi_select_into(query, tenant_type, tenant, &self->pub, snapshot != nullptr);
		if (snapshot)
			PopActiveSnapshot();
		MemoryContextDelete(context);
	});
}

bool streamable_type(Oid type) {
	switch (type) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case OIDOID:
	case UUIDOID:
	case BOOLOID:
	case DATEOID:
	case TIMESTAMPOID:
	case TIMESTAMPTZOID:
		return true;
	default:
		return false;
	}
}

// Partitions of temporary files: records of a key and a tuple, each prefixed by its length.
void write_record(SpillFile &file, std::string_view key, const uint8_t *tuple, size_t length) {
	file.write_length(static_cast<uint32_t>(key.size()));
	file.write(key.data(), key.size());
	file.write_length(static_cast<uint32_t>(length));
	file.write(tuple, length);
}

bool read_record(SpillFile &file, std::string &key, std::string &tuple) {
	uint32_t len;
	if (!file.read_length(len))
		return false;
	key.resize(len);
	if (!file.read_exactly(key.data(), len) || !file.read_length(len))
		throw SqlError(ERRCODE_DATA_CORRUPTED, "a temporary file of tenant_backup's comparison ended inside a record");
	tuple.resize(len);
	if (len && !file.read_exactly(tuple.data(), len))
		throw SqlError(ERRCODE_DATA_CORRUPTED, "a temporary file of tenant_backup's comparison ended inside a record");
	return true;
}

} // namespace

bool key_streams(Oid relid, const RowKey &key) {
	if (key.columns.empty() || key.nullable)
		return false;
	for (const auto &column : key.columns) {
		auto rows = spi_query("SELECT a.atttypid::pg_catalog.text, a.attcollation::pg_catalog.text FROM "
		                      "pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid "
		                      "AND a.attname OPERATOR(pg_catalog.=) $2::pg_catalog.name AND NOT a.attisdropped",
		                      {std::to_string(relid), column});
		if (rows.size() != 1)
			return false;
		auto type = static_cast<Oid>(std::stoul(*rows[0][0]));
		auto collation = static_cast<Oid>(std::stoul(*rows[0][1]));
		if (streamable_type(type))
			continue;
		if (type != TEXTOID && type != VARCHAROID)
			return false;
		// Deterministic collations compare text by its bytes; the send function converts it to the
		// client encoding, which must then be the database's for equal bytes to be equal text.
		if (!pg_eval([collation] {
			    return OidIsValid(collation) && get_collation_isdeterministic(collation) &&
			           pg_get_client_encoding() == GetDatabaseEncoding();
		    }))
			return false;
	}
	return true;
}

struct ArchivedReadAhead::State {
	std::unique_ptr<ArchivedTuples> tuples;
	ArchivedRowTable table;
	uint64 archived = 0;
	bool duplicates = false;
	bool complete = false; // every row read (else: stopped at the memory budget, or not started)
	std::vector<size_t> key_fields;
	size_t budget = 0;
	std::optional<TransactionId> unchanged_before; // (unchanged_rows.hpp)
};

namespace {

std::vector<size_t> key_fields_of(const StreamedTable &t) {
	const std::vector<std::string> &columns = t.table->plan.load;
	std::vector<size_t> key_fields;
	for (const auto &c : t.key->columns)
		key_fields.push_back(static_cast<size_t>(std::find(columns.begin(), columns.end(), c) - columns.begin()));
	return key_fields;
}

// The backup's rows into the hash table, until they are all read (complete), their table is past
// the memory budget, or `stop` says so: on the helper thread, and on the backend's for the rest.
void fill_table(ArchivedReadAhead::State &st, const StopToken *stop) {
	std::vector<Field> fields;
	std::string key;
	while (st.table.bytes() <= st.budget && !(stop && stop->requested())) {
		if (!st.tuples->next(fields)) {
			st.complete = true;
			return;
		}
		st.archived++;
		key_of(fields, st.key_fields, key);
		const std::string &tuple = st.tuples->raw();
		if (!st.table.add(key, reinterpret_cast<const uint8_t *>(tuple.data()), tuple.size()))
			st.duplicates = true;
	}
}

// The read above found the table by its name. ALTER SCHEMA ... RENAME takes no lock on the tables
// in it, so schemas swapped since the table was planned (and locked, by its OID) would have it
// read another table's rows: checked after the read, by the name again.
void refuse_if_renamed_meanwhile(const TableRestorePlan &plan) {
	auto now = spi_query("SELECT pg_catalog.to_regclass($1)::pg_catalog.oid::pg_catalog.text", {plan.qualified});
	if (now.at(0)[0] != std::to_string(plan.relid))
		throw SqlError(ERRCODE_T_R_SERIALIZATION_FAILURE,
		               "table " + plan.display_name + " was renamed or its schema was while it was compared",
		               "Its name now finds another table, or none.", "Run it again.");
}

} // namespace

ArchivedReadAhead::ArchivedReadAhead(archive::ArchiveReader &reader, const archive::TableHeader &header,
                                     const StreamedTable &t, int64 backup_id, uint64 expected_rows,
                                     bool on_helper_thread, std::optional<TransactionId> unchanged_before)
    : state_(std::make_unique<State>()) {
	State &st = *state_;
	st.unchanged_before = unchanged_before;
	// (Its conversions pin the value styles in a GUC nest level of their own, from here until it
	// is destroyed: made outside any scope that ends a nest level before it.)
	st.tuples = std::make_unique<ArchivedTuples>(reader, header, *t.table, backup_id);
	st.key_fields = key_fields_of(t);
	st.budget = pg_eval([] { return get_hash_memory_limit(); });
	st.table.reserve(std::min<uint64>(expected_rows, st.budget / 128));
	// Converted columns run PostgreSQL code (casts, input functions): read on the backend's thread.
	if (!on_helper_thread || !t.table->plan.mapping.conversions.empty())
		return;
	// (past the budget, the backend's thread goes on, into temporary files)
	helper_ = std::make_unique<HelperThread>([&st](const StopToken &stop) { fill_table(st, &stop); });
}

ArchivedReadAhead::~ArchivedReadAhead() = default; // the helper thread first: stopped and joined

ArchivedReadAhead::State &ArchivedReadAhead::join() {
	if (helper_) {
		helper_->join();
		helper_.reset();
	}
	return *state_;
}

Streamed stream_differences(archive::ArchiveReader &reader, const archive::TableHeader &header, const StreamedTable &t,
                            const StoredBackup &backup, uint64 expected_rows, uint64 max_differences,
                            SpillFile *differences, StreamedCounts &counts, ArchivedReadAhead *ahead) {
	const int64 backup_id = backup.id;
	const TableRestorePlan &plan = t.table->plan;
	const std::vector<std::string> &columns = plan.load;
	std::unique_ptr<ArchivedReadAhead> own;
	if (!ahead) { // read here, on the backend's thread
		own = std::make_unique<ArchivedReadAhead>(reader, header, t, backup_id, expected_rows, false,
		                                          unchanged_before(backup, header, *t.table));
		ahead = own.get();
	}
	ArchivedReadAhead::State &read = ahead->join();
	const std::vector<size_t> &key_fields = read.key_fields;
	const size_t budget = read.budget;

	bool too_many = false;
	auto difference = [&] { // whether to write the difference just counted
		if (!differences)
			return false;
		if (counts.only_in_backup + counts.only_live + counts.changed > max_differences)
			too_many = true;
		return !too_many;
	};
	// A difference's tuple: its kind as a one-byte text field, then the row's fields.
	const uint16_t field_count = pg_hton16(static_cast<uint16_t>(columns.size() + 1));
	const uint32_t one = pg_hton32(1);
	auto emit_archived = [&](char kind, const ArchivedRowTable::Row &row) {
		differences->write(&field_count, 2);
		differences->write(&one, 4);
		differences->write(&kind, 1);
		differences->write(row.tuple + 2, row.length - 2);
	};
	// A removed row: the live row whole (its key is what the DELETE reads). Not its key and NULLs:
	// COPY runs a domain's receive function on a NULL too, and a NOT NULL domain refuses it.
	auto emit_removed = [&](const uint8_t *tuple, size_t length) {
		const char kind = 'r';
		differences->write(&field_count, 2);
		differences->write(&one, 4);
		differences->write(&kind, 1);
		differences->write(tuple + 2, length - 2);
	};

	ArchivedRowTable &table = read.table;
	bool duplicates = false; // set once the backup's rows are read (and as partitions are)
	auto add_archived = [&](std::string_view key, const uint8_t *tuple, size_t length) {
		if (!table.add(key, tuple, length))
			duplicates = true;
	};
	// A live row against the backup's rows in memory.
	std::vector<Field> live_fields;
	std::string live_key;
	uint64 compared = 0;
	// Only the fields up to the key's last are split: all that the key needs.
	const size_t key_span = *std::max_element(key_fields.begin(), key_fields.end()) + 1;
	auto live_key_of = [&](const uint8_t *tuple, size_t length) -> const std::string & {
		fields_of(tuple, length, key_span, live_fields);
		key_of(live_fields, key_fields, live_key);
		return live_key;
	};
	auto count_compared = [&] {
		if (t.stop_when_most_differ && ++compared >= kDifferenceSampleRows &&
		    mostly_differ(counts.only_live + counts.changed, compared))
			too_many = true;
	};
	auto probe = [&](const uint8_t *tuple, size_t length) {
		count_compared();
		ArchivedRowTable::Row *row = table.find(live_key_of(tuple, length));
		if (!row) {
			counts.only_live++;
			if (difference())
				emit_removed(tuple, length);
			return;
		}
		for (; row; row = row->same_key) {
			if (row->length == length && std::memcmp(row->tuple, tuple, length) == 0) {
				row->state = ArchivedRowTable::Same;
				counts.unchanged++;
				continue;
			}
			row->state = ArchivedRowTable::Changed;
			counts.changed++;
			if (difference())
				emit_archived('c', *row);
		}
	};
	// The backup's rows no live row matched.
	auto finish = [&] {
		table.for_each([&](std::string_view, const ArchivedRowTable::Row &row) {
			if (row.state != ArchivedRowTable::Unseen)
				return;
			counts.only_in_backup++;
			if (difference())
				emit_archived('a', row);
		});
		table.clear();
	};

	// Past the memory budget, both sides go to partitions by a hash of the key.
	std::vector<std::unique_ptr<SpillFile>> archived_parts, live_parts;
	// (by the hash's high bits: the hash table's slots go by its low ones)
	auto part_of = [&](std::string_view key) {
		return (std::hash<std::string_view>{}(key) >> 32) % archived_parts.size();
	};
	auto spill = [&] {
		// Enough partitions for the rows expected at this size, each within the budget.
		double per_row = static_cast<double>(table.bytes()) / static_cast<double>(std::max<size_t>(1, table.rows()));
		double expected = per_row * static_cast<double>(std::max<uint64>(expected_rows, read.archived)) * 1.25;
		size_t parts = std::clamp<size_t>(static_cast<size_t>(expected / static_cast<double>(budget)) + 1, 2, 1024);
		for (size_t p = 0; p < parts; p++) {
			archived_parts.push_back(std::make_unique<SpillFile>());
			live_parts.push_back(std::make_unique<SpillFile>());
		}
		table.for_each([&](std::string_view key, const ArchivedRowTable::Row &row) {
			write_record(*archived_parts[part_of(key)], key, row.tuple, row.length);
		});
		table.clear();
	};

	if (!read.complete) {
		// Decoding a converted column's values runs its type's code: as the table's owner, as a restore.
		AsTableOwner owner(plan.relid);
		fill_table(read, nullptr);
		if (!read.complete && !(read.duplicates && differences)) {
			spill();
			ArchivedTuples &tuples = *read.tuples;
			std::vector<Field> fields;
			std::string key;
			while (tuples.next(fields)) {
				read.archived++;
				key_of(fields, key_fields, key);
				const std::string &tuple = tuples.raw();
				write_record(*archived_parts[part_of(key)], key, reinterpret_cast<const uint8_t *>(tuple.data()),
				             tuple.size());
			}
		}
	}
	duplicates = read.duplicates;
	counts.archived = read.archived;
	if (duplicates && differences)
		return Streamed::DuplicateKeys;
	if (counts.archived != reader.table_rows())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(backup_id) +
		                                           " is damaged: table " + plan.display_name + " holds " +
		                                           std::to_string(counts.archived) + " rows, the archive records " +
		                                           std::to_string(reader.table_rows()));

	// Rows unchanged since the backup, told by their xmin, need only their key encoded; in memory
	// only (a partition's record holds the whole row).
	std::optional<UnchangedShortcut> shortcut;
	uint64 unchanged_by_xmin = 0;
	if (archived_parts.empty())
		if (std::optional<TransactionId> before = read.unchanged_before)
			shortcut = UnchangedShortcut{*before, static_cast<int>(key_span),
			                             [&](const uint8_t *prefix, size_t length) -> std::optional<bool> {
				                             ArchivedRowTable::Row *row = table.find(live_key_of(prefix, length));
				                             if (!row || row->same_key)
					                             return std::nullopt; // compared whole
				                             count_compared();
				                             row->state = ArchivedRowTable::Same;
				                             counts.unchanged++;
				                             unchanged_by_xmin++;
				                             return !too_many;
			                             }};
	std::string sql = "SELECT " + join_each(columns, ", ", [&](size_t i) { return "ch." + quoted_ident(columns[i]); }) +
	                  (shortcut ? ", ch.xmin" : "") + plan.table.tenant_rows_sql();
	std::function<bool(const uint8_t *, size_t)> consume = [&](const uint8_t *tuple, size_t length) {
		if (archived_parts.empty()) {
			probe(tuple, length);
			return !too_many; // so many differences that the rest is not worth reading
		}
		const std::string &key = live_key_of(tuple, length);
		write_record(*live_parts[part_of(key)], key, tuple, length);
		return true;
	};
	{
		std::optional<AsTableOwner> owner;
		if (t.as_owner)
			owner.emplace(plan.relid);
		// Rows found through a path: joined by index probes along it, as a backup reads them.
		std::optional<int> probes;
		if (plan.table.is_path())
			probes = plan_with_index_probes();
		read_live_rows(sql, plan.tenant_type, t.table->tenant, t.snapshot, consume, shortcut ? &*shortcut : nullptr);
		if (probes)
			end_index_probes(*probes);
	}
	refuse_if_renamed_meanwhile(plan);
	if (shortcut)
		log_message(DEBUG1, "tenant_backup: " + plan.display_name + ": " + std::to_string(unchanged_by_xmin) +
		                        " live rows unchanged since backup " + std::to_string(backup_id) + " by their xmin");
	if (archived_parts.empty()) {
		finish();
	} else {
		std::string key, tuple;
		for (size_t p = 0; p < archived_parts.size() && !too_many; p++) {
			archived_parts[p]->rewind();
			while (read_record(*archived_parts[p], key, tuple))
				add_archived(key, reinterpret_cast<const uint8_t *>(tuple.data()), tuple.size());
			if (duplicates && differences)
				return Streamed::DuplicateKeys;
			archived_parts[p].reset(); // its space back before the next partition's
			live_parts[p]->rewind();
			while (read_record(*live_parts[p], key, tuple))
				probe(reinterpret_cast<const uint8_t *>(tuple.data()), tuple.size());
			live_parts[p].reset();
			finish();
		}
	}
	return too_many ? Streamed::TooManyDifferences : Streamed::Compared;
}

} // namespace tb::pg
