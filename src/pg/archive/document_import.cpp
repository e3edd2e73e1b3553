// Brings a downloaded JSON document (backup_download) back as a backup of kind 'imported', ready
// for backup_restore. Two passes over the document, one line at a time (src/core/document): the
// first checks that it is ours, complete and unaltered (its trailing SHA-256); the second parses
// each row into its table's current row type with json_populate_record, checks that the row
// belongs to the document's tenant, and streams it as binary COPY tuples into a new archive,
// compressed, encrypted and hashed like any backup (NewArchive).
#include "pg/archive/document_import.hpp"
#include "pg/repository/self_description.hpp"

#include "core/document/json_document.hpp"
#include "core/error.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/catalog/quota.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/archive/new_archive.hpp"
#include "pg/archive/restore_plan.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"
#include "pg/archive/tuple_receiver.hpp"
#include "pg/archive/type_code.hpp"

#include <set>
#include <optional>

extern "C" {
#include "executor/tuptable.h"
#include "utils/fmgrprotos.h"
#include "utils/fmgroids.h"
#include "utils/typcache.h"
}

namespace tb::pg {

namespace {

// Adds "document line N" to every PostgreSQL error raised while a scope is alive.
class LineContext {
public:
	explicit LineContext(const LineReader &lines) : lines_(lines) {
		callback_.callback = report;
		callback_.arg = this;
		callback_.previous = error_context_stack;
		error_context_stack = &callback_;
	}
	~LineContext() { error_context_stack = callback_.previous; }
	LineContext(const LineContext &) = delete;
	LineContext &operator=(const LineContext &) = delete;

private:
	static void report(void *arg) {
		auto *self = static_cast<LineContext *>(arg);
		errcontext("tenant_backup import, line %llu of the document",
		           static_cast<unsigned long long>(self->lines_.line_number()));
	}
	const LineReader &lines_;
	ErrorContextCallback callback_;
};

[[noreturn]] void unfit(int sqlstate, const std::string &message) {
	throw SqlError(sqlstate, message + "; nothing was imported", "",
	               "Import documents into a database whose tenant tables match the ones backed up.");
}

// Column `col` of the first row of the last SPI result as text; nullopt for NULL.
std::optional<std::string> result_text(int col) {
	const char *value = pg_eval([col] { return static_cast<const char *>(spi_text(0, col)); });
	if (!value)
		return std::nullopt;
	return std::string(value);
}

std::string required(std::optional<std::string> value, const std::string &what) {
	if (!value)
		throw SqlError(ERRCODE_DATA_CORRUPTED, "the document does not give " + what + "; nothing was imported");
	return *value;
}

// The PostgreSQL side of one document table while its rows arrive.
struct TableImport {
	const TenantTable *table = nullptr;
	std::string display;                  // schema.table
	std::vector<archive::Column> columns; // the archived columns (name, type)
	MemoryContext context = nullptr;      // everything below lives here
	MemoryContext row_context = nullptr;  // reset after every row
	FmgrInfo populate;                    // json_populate_record(NULL::<table>, row)
	TupleDesc row_desc = nullptr;         // the table's row type
	bool as_owner = false;                // a superuser parses rows as the table's owner: domains' CHECKs run
	std::vector<int> kept;                // per archived column: its index in row_desc
	int tenant_index = -1;                // the tenant column's index in row_desc
	FmgrInfo tenant_output;
	char *tenant_text = nullptr; // the document's tenant as the tenant column's type prints it
	Datum *values = nullptr;
	bool *nulls = nullptr;
	TupleTableSlot *slot = nullptr; // the archived columns
	TupleStreamReceiver *receiver = nullptr;
	uint64 rows = 0;
};

class DocumentImporter : public document::DocumentHandler {
public:
	explicit DocumentImporter(AuditedAction &audit) : audit_(audit) {}
	void header(const std::string &object) override;
	void table(const std::string &object) override;
	void row(const std::string &object) override;
	void table_end(uint64_t rows) override;
	// After the whole document: finishes the archive and records the backup. Returns its id.
	int64 finish();

private:
	void start_table(const TenantTable &t, const std::vector<std::string> &names, const archive::TableHeader &header);

	AuditedAction &audit_;
	NewBackup backup_;
	std::vector<TenantTable> tables_;
	std::vector<Datum> tenant_values_;
	std::unique_ptr<NewArchive> archive_;
	std::set<std::string> seen_;
	TableImport current_;
};

void DocumentImporter::header(const std::string &object) {
	SqlParams document = {object};
	pg_call([&] {
		spi_run("SELECT j ->> 'format', j ->> 'format_version', b ->> 'tenant', b ->> 'label', "
		        "  (b ->> 'snapshot')::timestamptz, "
		        "  pg_catalog.jsonb_build_object('label', b -> 'label', 'snapshot_at', b -> 'snapshot', "
		        "    'backup_id', b -> 'id')::text "
		        "FROM (SELECT $1::jsonb AS j) d, LATERAL (SELECT j -> 'backup' AS b) h",
		        document, true, SPI_OK_SELECT);
	});
	std::string format = result_text(1).value_or("");
	if (format != document::kFormatName)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "the document is not a tenant_backup download (format \"" +
		                                                    format + "\"); nothing was imported");
	std::string version = result_text(2).value_or("");
	if (version != std::to_string(document::kFormatVersion))
		throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
		               "the document has format version " + version + ", this tenant_backup reads version " +
		                   std::to_string(document::kFormatVersion) + "; nothing was imported");
	std::string tenant = required(result_text(3), "the backup's tenant");
	check_text_arg(tenant, "the document's tenant", kMaxTenantBytes, false);
	backup_.label = result_text(4);
	if (backup_.label)
		check_text_arg(*backup_.label, "the document's label", kMaxLabelBytes, true);
	bool no_snapshot = false;
	backup_.snapshot_at = pg_eval([&no_snapshot] { return DatumGetTimestampTz(spi_datum(0, 5, &no_snapshot)); });
	if (no_snapshot)
		required(std::nullopt, "the backup's snapshot time");
	// The label and snapshot time are the document's word, not facts this server saw: the label
	// says so, and backups.claimed keeps what the document claimed (see docs/REFERENCE.md, "backup_import").
	backup_.claimed = result_text(6);
	if (backup_.label)
		backup_.label = "imported: " + *backup_.label;

	tables_ = load_tenant_tables();
	tenant_values_ = tenant_values(tenant, tables_);
	backup_.tenant = canonical_tenant(tenant, tables_, tenant_values_);
	// Importing hands a tenant a way to overwrite its data: what restoring takes.
	audit_.set_tenant(backup_.tenant);
	require_permission("backup.restore", backup_.tenant, 0, "import");
	check_backup_quota(backup_.tenant);
	backup_.kind = "imported";
	backup_.id = next_backup_id();
	backup_.created_at = pg_eval([] { return GetCurrentTimestamp(); });
	archive_ = std::make_unique<NewArchive>(backup_, true);
}

void DocumentImporter::table(const std::string &object) {
	SqlParams document = {object};
	uint64 columns = pg_eval([&] {
		return spi_run("SELECT j ->> 'schema', j ->> 'name', j ->> 'tenant_column', c ->> 'name', c ->> 'type' "
		               "FROM (SELECT $1::jsonb AS j) d "
		               "LEFT JOIN LATERAL jsonb_array_elements(j -> 'columns') WITH ORDINALITY AS e(c, n) ON true "
		               "ORDER BY n",
		               document, true, SPI_OK_SELECT);
	});
	std::string schema = required(result_text(1), "a table's schema");
	std::string name = required(result_text(2), "a table's name");
	std::string display = schema + "." + name;
	std::optional<std::string> doc_tenant_column = result_text(3);
	std::vector<std::pair<std::string, std::string>> doc_columns;
	for (uint64 r = 0; r < columns; r++) {
		const char *col_name = pg_eval([r] { return static_cast<const char *>(spi_text(r, 4)); });
		const char *col_type = pg_eval([r] { return static_cast<const char *>(spi_text(r, 5)); });
		if (!col_name || !col_type)
			throw SqlError(ERRCODE_DATA_CORRUPTED, "the document lists a column of table " + display +
			                                           " without name or type; nothing was imported");
		doc_columns.emplace_back(col_name, col_type);
	}
	if (!seen_.insert(display).second)
		throw SqlError(ERRCODE_DATA_CORRUPTED, "the document holds table " + display + " twice; nothing was imported");

	const TenantTable *t = nullptr;
	for (const auto &candidate : tables_)
		if (candidate.schema == schema && candidate.name == name)
			t = &candidate;
	if (!t)
		unfit(ERRCODE_UNDEFINED_TABLE, "table " + display + " of the document is not a tenant table of this database");
	// The document's path (a table found through foreign keys): its steps, in order.
	std::vector<archive::PathStep> path;
	for (const auto &step : spi_query("SELECT s ->> 'constraint', s ->> 'schema', s ->> 'name', s::pg_catalog.text "
	                                  "FROM jsonb_array_elements(coalesce($1::jsonb -> 'path', '[]')) WITH ORDINALITY "
	                                  "AS e(s, n) ORDER BY n",
	                                  {object}, true)) {
		archive::PathStep p{required(step[0], "a path step's constraint of table " + display),
		                    required(step[1], "a path step's schema of table " + display),
		                    required(step[2], "a path step's table of table " + display),
		                    {},
		                    {}};
		for (const auto &key : spi_query("SELECT c, r FROM ROWS FROM ("
		                                 "  jsonb_array_elements_text($1::jsonb -> 'columns'), "
		                                 "  jsonb_array_elements_text($1::jsonb -> 'referenced')) AS k(c, r)",
		                                 {step[3]}, true)) {
			p.columns.push_back(required(key[0], "a path step's columns of table " + display));
			p.referenced.push_back(required(key[1], "a path step's referenced columns of table " + display));
		}
		path.push_back(std::move(p));
	}
	std::string tenant_column =
	    path.empty() ? required(doc_tenant_column, "the tenant column of table " + display) : "";
	// Rows are found as in the document, or the import is refused (as a restore would be).
	if (path != t->steps)
		unfit(ERRCODE_DATATYPE_MISMATCH,
		      "the rows of table " + display + " are found through other foreign keys here than in the document");
	if (t->tenant_column != tenant_column)
		unfit(ERRCODE_DATATYPE_MISMATCH, "table " + display + " has tenant column \"" + t->tenant_column +
		                                     "\", the document's has \"" + tenant_column + "\"");

	// Schema drift as a restore sees it (the one rule, restore_plan.hpp).
	archive::TableHeader header; // no identity or constraints: a document records neither
	header.schema = schema;
	header.name = name;
	header.tenant_column = tenant_column;
	header.path = path;
	std::vector<archive::Column> archived;
	for (const auto &[col, type] : doc_columns)
		archived.push_back({col, type});
	ColumnPlan fields = plan_columns(archived, t->relid, display, "the document", "nothing was imported");
	bool has_tenant_column = false;
	for (size_t i = 0; i < archived.size(); i++)
		if (fields.keep[i]) {
			has_tenant_column |= archived[i].name == tenant_column;
			// json_populate_record parses a changed column's values as its type now (its input
			// function converts them, or fails naming the line): the new archive records that type.
			archive::Column kept = archived[i];
			for (const auto &conversion : fields.conversions)
				if (conversion.field == i)
					kept.type = conversion.to;
			header.columns.push_back(kept);
		}
	const std::vector<std::string> &names = fields.load;
	if (!has_tenant_column && path.empty())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "the document's table " + display + " lacks its tenant column \"" +
		                                           tenant_column + "\"; nothing was imported");
	start_table(*t, names, header);
}

void DocumentImporter::start_table(const TenantTable &t, const std::vector<std::string> &names,
                                   const archive::TableHeader &header) {
	archive_->writer().begin_table(header);
	current_ = TableImport{};
	current_.table = &t;
	current_.display = t.display_name();
	current_.columns = header.columns;
	Datum tenant = tenant_values_[static_cast<size_t>(&t - tables_.data())];
	TableImport &ti = current_;
	pg_call([&] {
		ti.context = AllocSetContextCreate(CurrentMemoryContext, "tenant_backup import", ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(ti.context);
		ti.row_context = AllocSetContextCreate(ti.context, "tenant_backup import row", ALLOCSET_DEFAULT_SIZES);
		Oid row_type = get_rel_type_id(t.relid);
		ti.row_desc = lookup_rowtype_tupdesc_copy(row_type, -1);
		// json_populate_record runs the columns' input functions, and a domain's CHECK is code of
		// the domain's owner: never as a superuser (restore's COPY runs as the owner likewise).
		for (int i = 0; i < ti.row_desc->natts && superuser(); i++)
			ti.as_owner = ti.as_owner || OidIsValid(code_owner(TupleDescAttr(ti.row_desc, i)->atttypid));
		ti.values = static_cast<Datum *>(palloc(sizeof(Datum) * ti.row_desc->natts));
		ti.nulls = static_cast<bool *>(palloc(sizeof(bool) * ti.row_desc->natts));
		TupleDesc kept = CreateTemplateTupleDesc(static_cast<int>(names.size()));
		for (size_t k = 0; k < names.size(); k++) {
			for (int i = 0; i < ti.row_desc->natts; i++) {
				Form_pg_attribute att = TupleDescAttr(ti.row_desc, i);
				if (att->attisdropped || names[k] != NameStr(att->attname))
					continue;
				ti.kept.push_back(i);
				TupleDescInitEntry(kept, static_cast<AttrNumber>(k + 1), NameStr(att->attname), att->atttypid,
				                   att->atttypmod, 0);
				if (names[k] == t.tenant_column)
					ti.tenant_index = i;
			}
		}
		// json_populate_record learns the row type from its call expression, as in a query.
		fmgr_info_cxt(F_JSON_POPULATE_RECORD, &ti.populate, ti.context);
		FuncExpr *call =
		    makeFuncExpr(F_JSON_POPULATE_RECORD, row_type,
		                 list_make2(makeNullConst(row_type, -1, InvalidOid), makeNullConst(JSONOID, -1, InvalidOid)),
		                 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		fmgr_info_set_expr(reinterpret_cast<Node *>(call), &ti.populate);
		Oid output;
		bool varlena;
		getTypeOutputInfo(t.tenant_type, &output, &varlena);
		fmgr_info_cxt(output, &ti.tenant_output, ti.context);
		ti.tenant_text = OutputFunctionCall(&ti.tenant_output, tenant);
		ti.slot = MakeSingleTupleTableSlot(kept, &TTSOpsVirtual);
		MemoryContextSwitchTo(old);
	});
	if (current_.kept.size() != names.size())
		throw SqlError(ERRCODE_INTERNAL_ERROR, "columns of " + t.display_name() + " changed during the import");
	current_.receiver = create_tuple_receiver(&archive_->writer());
	DestReceiver *dest = as_dest(current_.receiver);
	TupleDesc kept = current_.slot->tts_tupleDescriptor;
	pg_call([dest, kept] { dest->rStartup(dest, CMD_SELECT, kept); });
}

void DocumentImporter::row(const std::string &object) {
	TableImport &ti = current_;
	std::optional<AsTableOwner> owner;
	if (ti.as_owner)
		owner.emplace(ti.table->relid, AsTableOwner::Mode::Restricted);
	ti.rows++;
	const char *display = ti.display.c_str();
	pg_call([&] {
		MemoryContext old = MemoryContextSwitchTo(ti.row_context);
		LOCAL_FCINFO(call, 2);
		InitFunctionCallInfoData(*call, &ti.populate, 2, InvalidOid, nullptr, nullptr);
		call->args[0].value = 0;
		call->args[0].isnull = true; // NULL::<table>: only the row type matters
		call->args[1].value = PointerGetDatum(cstring_to_text_with_len(object.data(), static_cast<int>(object.size())));
		call->args[1].isnull = false;
		Datum record = FunctionCallInvoke(call);
		if (call->isnull)
			elog(ERROR, "json_populate_record returned NULL");
		HeapTupleHeader header = DatumGetHeapTupleHeader(record);
		HeapTupleData tuple;
		tuple.t_len = HeapTupleHeaderGetDatumLength(header);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = header;
		heap_deform_tuple(&tuple, ti.row_desc, ti.values, ti.nulls);

		// The checksum proves the document whole, not who wrote it: each row must be the tenant's
		// (rows found through a path are checked by the restore, which sees their parents).
		const char *row_tenant = ti.tenant_index < 0 ? ti.tenant_text
		                         : ti.nulls[ti.tenant_index]
		                             ? nullptr
		                             : OutputFunctionCall(&ti.tenant_output, ti.values[ti.tenant_index]);
		if (!row_tenant || strcmp(row_tenant, ti.tenant_text) != 0)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
			                errmsg("row %llu of table %s in the document belongs to tenant %s%s%s, not to the "
			                       "document's tenant \"%s\"; nothing was imported",
			                       static_cast<unsigned long long>(ti.rows), display, row_tenant ? "\"" : "",
			                       row_tenant ? row_tenant : "NULL", row_tenant ? "\"" : "", ti.tenant_text)));

		TupleTableSlot *slot = ti.slot;
		ExecClearTuple(slot);
		for (size_t k = 0; k < ti.kept.size(); k++) {
			slot->tts_values[k] = ti.values[ti.kept[k]];
			slot->tts_isnull[k] = ti.nulls[ti.kept[k]];
		}
		ExecStoreVirtualTuple(slot);
		DestReceiver *dest = as_dest(ti.receiver);
		dest->receiveSlot(slot, dest);
		MemoryContextSwitchTo(old);
		MemoryContextReset(ti.row_context);
	});
}

void DocumentImporter::table_end(uint64_t rows) {
	TableImport &ti = current_;
	uint64 stored = flush_tuple_receiver(ti.receiver);
	destroy_tuple_receiver(ti.receiver);
	if (stored != rows)
		throw SqlError(ERRCODE_INTERNAL_ERROR, "stored " + std::to_string(stored) + " of " + std::to_string(rows) +
		                                           " rows of " + ti.table->display_name());
	archive_->writer().end_table();
	TableSummary summary{ti.table->schema, ti.table->name, ti.table->tenant_column, rows, {}};
	for (const auto &c : ti.columns)
		summary.columns.emplace_back(c.name, c.type);
	backup_.tables.push_back(std::move(summary));
	backup_.rows += rows;
	TupleTableSlot *slot = ti.slot;
	MemoryContext context = ti.context;
	pg_call([slot, context] {
		ExecDropSingleTupleTableSlot(slot);
		MemoryContextDelete(context); // memory stays flat however many tables there are
	});
	current_ = TableImport{};
}

int64 DocumentImporter::finish() {
	archive_->finish(backup_);
	insert_completed_backup(backup_);
	describe_backup(backup_.id);
	archive_->publish_at_commit();
	return backup_.id;
}

} // namespace

int64 import_document(Source &source, const std::function<void()> &rewind, AuditedAction &audit) {
	{
		LineReader lines(source, document::kMaxLineBytes);
		try {
			document::check_document(lines);
		} catch (const Error &e) { // not ours, truncated, altered: the message names the likely cause
			if (e.kind() != ErrorKind::InvalidInput && e.kind() != ErrorKind::Corrupt)
				throw;
			throw SqlError(e.kind() == ErrorKind::Corrupt ? ERRCODE_DATA_CORRUPTED : ERRCODE_INVALID_PARAMETER_VALUE,
			               std::string(e.what()) + "; nothing was imported", "",
			               "Import the file exactly as backup_download wrote it, moved as a binary file. psql -At -c "
			               "\"SELECT * FROM tenant_backup.backup_download(ID)\" -o FILE writes it, or \\copy (SELECT "
			               "* FROM tenant_backup.backup_download(ID)) TO 'FILE' WITH (FORMAT csv, QUOTE E'\\x01', "
			               "DELIMITER E'\\x02').");
		}
	}
	rewind();
	spi_begin();
	LineReader lines(source, document::kMaxLineBytes);
	DocumentImporter importer(audit);
	{
		LineContext context(lines);
		document::read_document(lines, importer);
	}
	int64 id = importer.finish();
	audit.set_backup(id);
	audit.ok();
	spi_end();
	return id;
}

} // namespace tb::pg
