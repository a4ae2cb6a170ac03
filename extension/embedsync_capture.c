/*
 * embedsync_capture: the UPDATE trigger's function compiled into the server (optional; docs/sync.md, Triggers).
 * It does what the PL/pgSQL function embedsync.<stem>_upd() does: when an UPDATE changed the id or a document
 * column, one row (id, statement time) into the table's change log. Without PL/pgSQL's call and the executor it
 * starts for a one-row INSERT, a text UPDATE costs the application a fraction of what it costs with the PL/pgSQL
 * function (docs/benchmarks.md).
 *
 * Trigger arguments: the change log's name in schema embedsync, the source's id column. The columns compared are
 * the trigger's own (UPDATE OF), and the id. The values are compared byte for byte after detoasting, which never
 * misses a change the text of the document could show.
 *
 * It writes only into a table of schema embedsync named *_changes, shaped (id of the source's id type,
 * at timestamptz), with no trigger, rule or policy, which its heap insert would pass by. migrate creates the log
 * without an index; one added since is kept up to date (through the executor's index insertion, only then).
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(embedsync_capture_update);

/* Whether a column's value differs between the row's two versions. */
static bool
value_changed(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, int attnum)
{
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	bool		oldnull;
	bool		newnull;
	Datum		oldval = heap_getattr(oldtup, attnum, desc, &oldnull);
	Datum		newval = heap_getattr(newtup, attnum, desc, &newnull);
	struct varlena *a;
	struct varlena *b;
	bool		changed;

	if (oldnull || newnull)
		return oldnull != newnull;
	if (att->attlen != -1)
		return !datumIsEqual(oldval, newval, att->attbyval, att->attlen);
	a = (struct varlena *) DatumGetPointer(oldval);
	b = (struct varlena *) DatumGetPointer(newval);
	if (a == b)
		return false;
	/* An untouched toasted value keeps its pointer: the same value, without reading it back. */
	if (VARATT_IS_EXTERNAL_ONDISK(a) && VARATT_IS_EXTERNAL_ONDISK(b))
	{
		struct varatt_external ea;
		struct varatt_external eb;

		VARATT_EXTERNAL_GET_POINTER(ea, a);
		VARATT_EXTERNAL_GET_POINTER(eb, b);
		if (ea.va_valueid == eb.va_valueid && ea.va_toastrelid == eb.va_toastrelid)
			return false;
	}
	a = pg_detoast_datum_packed(a);
	b = pg_detoast_datum_packed(b);
	changed = VARSIZE_ANY_EXHDR(a) != VARSIZE_ANY_EXHDR(b) ||
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) != 0;
	if ((Pointer) a != DatumGetPointer(oldval))
		pfree(a);
	if ((Pointer) b != DatumGetPointer(newval))
		pfree(b);
	return changed;
}

/* The change log, opened, once it is known to be one: anything else is refused, never written. */
static Relation
open_change_log(const char *name, Oid idtype)
{
	size_t		len = strlen(name);
	Oid			nsp = get_namespace_oid("embedsync", false);
	Oid			relid;
	Relation	log;
	TupleDesc	desc;

	if (len <= strlen("_changes") || strcmp(name + len - strlen("_changes"), "_changes") != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("embedsync_capture_update: \"%s\" is not a change log name (<stem>_changes)", name)));
	relid = get_relname_relid(name, nsp);
	if (!OidIsValid(relid))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
						errmsg("embedsync_capture_update: the change log embedsync.%s does not exist", name),
						errhint("Run embedsync migrate for this table.")));
	log = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(log);
	if (log->rd_rel->relkind != RELKIND_RELATION || log->trigdesc != NULL ||
		log->rd_rel->relhasrules || log->rd_rel->relrowsecurity || desc->natts != 2 ||
		TupleDescAttr(desc, 0)->attisdropped || TupleDescAttr(desc, 0)->atttypid != idtype ||
		TupleDescAttr(desc, 1)->attisdropped || TupleDescAttr(desc, 1)->atttypid != TIMESTAMPTZOID)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("embedsync_capture_update: embedsync.%s is not the change log embedsync migrate creates", name),
						errdetail("A change log is a plain table (id, at timestamptz) with no trigger, rule or policy."),
						errhint("Run embedsync migrate for this table.")));
	return log;
}

/* The entries of an index someone added to the change log (migrate creates none). */
static void
insert_index_entries(Relation log, HeapTuple entry)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot;

	InitResultRelInfo(rri, log, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = MakeSingleTupleTableSlot(RelationGetDescr(log), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(entry, slot, false);
	slot->tts_tid = entry->t_self;
#if PG_VERSION_NUM >= 160000
	list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false));
#else
	list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
#endif
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
}

Datum
embedsync_capture_update(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	TupleDesc	desc;
	int			idatt;
	bool		changed;
	Relation	log;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	HeapTuple	entry;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("embedsync_capture_update must be fired AFTER UPDATE FOR EACH ROW")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs != 2)
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("embedsync_capture_update takes two arguments: the change log, the id column")));
	desc = RelationGetDescr(trigdata->tg_relation);
	idatt = SPI_fnumber(desc, trigger->tgargs[1]);
	if (idatt <= 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
						errmsg("embedsync_capture_update: no column \"%s\" in %s", trigger->tgargs[1],
							   RelationGetRelationName(trigdata->tg_relation))));

	changed = value_changed(trigdata->tg_trigtuple, trigdata->tg_newtuple, desc, idatt);
	for (int i = 0; i < trigger->tgnattr && !changed; i++)
		changed = value_changed(trigdata->tg_trigtuple, trigdata->tg_newtuple, desc, trigger->tgattr[i]);
	if (!changed)
		return PointerGetDatum(NULL);

	log = open_change_log(trigger->tgargs[0], TupleDescAttr(desc, idatt - 1)->atttypid);
	values[0] = heap_getattr(trigdata->tg_newtuple, idatt, desc, &nulls[0]);
	values[1] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
	entry = heap_form_tuple(RelationGetDescr(log), values, nulls);
	simple_heap_insert(log, entry);
	if (log->rd_rel->relhasindex)
		insert_index_entries(log, entry);
	heap_freetuple(entry);
	table_close(log, NoLock);
	return PointerGetDatum(NULL);
}
