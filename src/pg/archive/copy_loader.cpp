#include "pg/archive/copy_loader.hpp"

#include "pg/archive/citus_tables.hpp"
#include "pg/boundary/guard.hpp"

namespace tb::pg {

namespace {

// COPY's data source callback has no argument for state; a backend runs one COPY at a time.
Source *current_source = nullptr;

// Restores the previous source on exit: a trigger fired by one COPY may run another restore.
struct CurrentSourceScope {
	explicit CurrentSourceScope(Source &s) : previous(current_source) { current_source = &s; }
	~CurrentSourceScope() { current_source = previous; }
	Source *previous;
};

int read_copy_data(void *outbuf, int minread, int maxread) {
	int got = 0;
	cpp_call([&] {
		auto *out = static_cast<uint8_t *>(outbuf);
		while (got < minread) {
			size_t n = current_source->read(out + got, static_cast<size_t>(maxread - got));
			if (n == 0)
				break;
			got += static_cast<int>(n);
		}
	});
	return got;
}

} // namespace

uint64 copy_into(Oid relid, const std::vector<std::string> &columns, Source &copy_stream) {
	// COPY's own machinery writes the relation itself: into a Citus table's coordinator shell,
	// where no query sees the rows. Citus tables load through load_into_citus only.
	if (citus_table(relid))
		throw SqlError(ERRCODE_INTERNAL_ERROR, "tenant_backup would load rows past Citus into a Citus table's shell",
		               "", "Citus tables are loaded through Citus (load_into_citus).");
	CurrentSourceScope scope(copy_stream);
	return pg_eval([&] {
		Relation rel = table_open(relid, RowExclusiveLock);
		ParseState *pstate = make_parsestate(nullptr);
		addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
		List *attnames = NIL;
		for (const auto &c : columns)
			attnames = lappend(attnames, makeString(pstrdup(c.c_str())));
		List *options = list_make1(makeDefElem(pstrdup("format"), (Node *)makeString(pstrdup("binary")), -1));
		PushActiveSnapshot(GetTransactionSnapshot());
		CopyFromState cstate = BeginCopyFrom(pstate, rel, nullptr, nullptr, false, read_copy_data, attnames, options);
		uint64 rows = CopyFrom(cstate);
		EndCopyFrom(cstate);
		PopActiveSnapshot();
		table_close(rel, NoLock);
		free_parsestate(pstate);
		return rows;
	});
}

} // namespace tb::pg
