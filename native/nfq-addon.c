/*
 * N-API face of one NFQUEUE queue (nfq-core.c does the netlink work).
 *
 * JavaScript validates every option (src/queue/queue-options.ts); the range
 * checks here only keep memory safe if that contract is ever broken.
 *
 * Lifetime: open() returns a wrapped handle object that owns a struct
 * nfq_inst. While the queue is open the instance holds a strong reference to
 * its handle, so an NfQueue dropped without close() keeps serving packets (as
 * a listening net.Server does). close(), or the environment's async cleanup
 * hook (worker exit, process teardown), stops the uv_poll_t, accepts what is
 * still queued and closes the socket; the struct itself is freed once both
 * the handle has been finalized and libuv has finished closing the poll
 * handle, whichever comes last.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <node_api.h>
#include <uv.h>

#include "nfq-core.h"

struct nfq_inst {
	struct nfq_core core;
	napi_env env;
	uv_poll_t poll;
	napi_ref self_ref;
	napi_ref cb_ref;
	napi_ref data_ref;
	napi_ref desc_ref;
	napi_ref verdicts_ref;
	napi_async_context actx;
	napi_async_cleanup_hook_handle cleanup;
	bool open;
	bool poll_inited;
	bool uv_pending;
	bool finalized;
	bool in_callback;
	bool close_pending;
};

/* Marks handle objects made by this addon, so a foreign object passed as a
 * handle is refused instead of unwrapped. */
static const napi_type_tag NFQ_HANDLE_TAG = {0x7369707761llu, 0x6c6c6e66712d31llu};

#define NFQ_OPEN_ARGC 10

static napi_value throw_napi_failure(napi_env env, const char *what)
{
	const napi_extended_error_info *info = NULL;
	char msg[256];
	bool pending = false;

	/* Read the error before any other N-API call overwrites it. */
	napi_get_last_error_info(env, &info);
	snprintf(msg, sizeof(msg), "%s failed: %s", what,
		 info != NULL && info->error_message != NULL ? info->error_message : "N-API error");
	if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
		return NULL;
	napi_throw_error(env, "NFQ_NAPI", msg);
	return NULL;
}

#define NAPI_CALL(env, call)                                                                       \
	do {                                                                                       \
		if ((call) != napi_ok)                                                             \
			return throw_napi_failure((env), #call);                                   \
	} while (0)

static void clear_pending_exception(napi_env env)
{
	bool pending = false;
	napi_value exc;

	/* If even clearing fails, the next N-API call reports it. */
	if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
		(void)napi_get_and_clear_last_exception(env, &exc);
}

static bool arg_u32(napi_env env, napi_value v, const char *name, double min, double max,
		    uint32_t *out)
{
	napi_valuetype t;
	double d;
	char msg[160];

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
	    napi_get_value_double(env, v, &d) != napi_ok) {
		snprintf(msg, sizeof(msg), "%s must be a number", name);
		napi_throw_type_error(env, "NFQ_ARG", msg);
		return false;
	}
	if (!(d >= min && d <= max) || floor(d) != d) {
		snprintf(msg, sizeof(msg), "%s must be an integer in %.0f..%.0f", name, min, max);
		napi_throw_range_error(env, "NFQ_ARG", msg);
		return false;
	}
	*out = (uint32_t)d;
	return true;
}

/* The bytes of a Uint8Array (Buffer included). */
static bool arg_bytes(napi_env env, napi_value v, const char *name, const uint8_t **data,
		      size_t *len)
{
	bool is_ta = false;
	napi_typedarray_type t;
	napi_value ab;
	size_t off;
	void *p = NULL;
	char msg[128];

	if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
	    napi_get_typedarray_info(env, v, &t, len, &p, &ab, &off) != napi_ok ||
	    t != napi_uint8_array) {
		snprintf(msg, sizeof(msg), "%s must be a Uint8Array", name);
		napi_throw_type_error(env, "NFQ_ARG", msg);
		return false;
	}
	*data = p;
	return true;
}

static struct nfq_inst *arg_inst(napi_env env, napi_value v)
{
	napi_valuetype t;
	bool tagged = false;
	void *q = NULL;

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_object ||
	    napi_check_object_type_tag(env, v, &NFQ_HANDLE_TAG, &tagged) != napi_ok || !tagged ||
	    napi_unwrap(env, v, &q) != napi_ok || q == NULL) {
		clear_pending_exception(env);
		napi_throw_type_error(env, "NFQ_ARG", "not an NFQUEUE handle");
		return NULL;
	}
	return q;
}

static void free_inst(struct nfq_inst *q)
{
	free(q);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct nfq_inst *q = h->data;

	q->uv_pending = false;
	if (q->cleanup != NULL) {
		/* Tells Node this queue is done, whether the hook ran or not. It
		 * only fails on a NULL handle. */
		(void)napi_remove_async_cleanup_hook(q->cleanup);
		q->cleanup = NULL;
	}
	if (q->finalized)
		free_inst(q);
}

static napi_status delete_ref(napi_env env, napi_ref *ref)
{
	napi_status st = napi_ok;

	if (*ref != NULL)
		st = napi_delete_reference(env, *ref);
	*ref = NULL;
	return st;
}

/* Stop everything; returns the first N-API failure (the queue is closed in
 * any case). */
static napi_status do_close(struct nfq_inst *q)
{
	napi_env env = q->env;
	napi_status first = napi_ok, st;

	if (!q->open)
		return napi_ok;
	q->open = false;
	/* uv_poll_stop() takes the fd out of epoll at once (libuv
	 * uv__platform_invalidate_fd), so the socket may be closed before
	 * uv_close() completes. */
	if (q->poll_inited)
		(void)uv_poll_stop(&q->poll); /* always 0 on an initialised handle */
	nfq_core_close(&q->core);

	napi_ref *refs[] = {&q->cb_ref, &q->data_ref, &q->desc_ref, &q->verdicts_ref, &q->self_ref};
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		st = delete_ref(env, refs[i]);
		if (first == napi_ok)
			first = st;
	}
	if (q->actx != NULL) {
		st = napi_async_destroy(env, q->actx);
		q->actx = NULL;
		if (first == napi_ok)
			first = st;
	}
	if (q->poll_inited) {
		q->uv_pending = true;
		uv_close((uv_handle_t *)&q->poll, on_poll_closed);
	} else if (q->cleanup != NULL) {
		(void)napi_remove_async_cleanup_hook(q->cleanup);
		q->cleanup = NULL;
	}
	return first;
}

static void finalize_inst(napi_env env, void *data, void *hint)
{
	struct nfq_inst *q = data;

	(void)env;
	(void)hint;
	q->finalized = true;
	/* Reached while open only at environment teardown, if Node finalizes
	 * before running our cleanup hook. */
	if (q->open)
		do_close(q);
	if (!q->uv_pending)
		free_inst(q);
}

static void cleanup_hook(napi_async_cleanup_hook_handle handle, void *arg)
{
	struct nfq_inst *q = arg;

	q->cleanup = handle;
	if (q->open) {
		do_close(q); /* on_poll_closed() reports completion */
	} else if (!q->uv_pending && q->cleanup != NULL) {
		(void)napi_remove_async_cleanup_hook(q->cleanup);
		q->cleanup = NULL;
	}
}

/* Whether the typed array behind ref still owns its memory. The three batch
 * arrays are plain ArrayBuffers: JavaScript can transfer one away
 * (postMessage, structuredClone with a transfer list), after which the core
 * would read and write memory it no longer owns. */
static bool still_attached(napi_env env, napi_ref ref)
{
	napi_value v, ab;
	napi_typedarray_type type;
	size_t length, offset;
	void *data;
	bool detached = true;

	return napi_get_reference_value(env, ref, &v) == napi_ok && v != NULL &&
	       napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) == napi_ok &&
	       napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && !detached;
}

static void call_js(struct nfq_inst *q, uint32_t njs)
{
	napi_env env = q->env;
	napi_handle_scope scope;
	napi_value cb, recv, argv, result;

	q->core.stats[NFQ_STAT_JS_CALLS]++;
	if (napi_open_handle_scope(env, &scope) != napi_ok) {
		q->core.stats[NFQ_STAT_JS_ERRORS]++;
		return;
	}
	if (napi_get_reference_value(env, q->cb_ref, &cb) == napi_ok && cb != NULL &&
	    napi_get_global(env, &recv) == napi_ok && napi_create_uint32(env, njs, &argv) == napi_ok) {
		/* napi_make_callback, not napi_call_function: it opens a callback
		 * scope, so promises and process.nextTick() queued by the engine
		 * run when it returns, as after any libuv callback. */
		q->in_callback = true;
		napi_status st = napi_make_callback(env, q->actx, recv, cb, 1, &argv, &result);
		q->in_callback = false;
		if (st != napi_ok) {
			/* Thrown, or the environment is shutting down. The packets
			 * are answered anyway: unset verdicts fail open. The
			 * exception is not rethrown (nothing on the stack to catch
			 * it); src/queue keeps it as NfQueue.lastError. */
			q->core.stats[NFQ_STAT_JS_ERRORS]++;
			clear_pending_exception(env);
		}
	} else {
		q->core.stats[NFQ_STAT_JS_ERRORS]++;
		clear_pending_exception(env);
	}
	/* JavaScript runs only in this callback (and between batches, in code
	 * that never sees the arrays): a batch buffer transferred away closes
	 * the queue once this batch is answered, before the next receive writes
	 * into it. The kernel then treats the queue as absent (the fail mode). */
	if (!still_attached(env, q->data_ref) || !still_attached(env, q->desc_ref) ||
	    !still_attached(env, q->verdicts_ref)) {
		q->core.stats[NFQ_STAT_JS_ERRORS]++;
		/* Not ours any more: this batch fails open, and the close reads nothing into them. */
		q->core.verdicts = NULL;
		q->core.rx = NULL;
		q->core.desc = NULL;
		q->close_pending = true;
	}
	if (napi_close_handle_scope(env, scope) != napi_ok)
		q->core.stats[NFQ_STAT_JS_ERRORS]++;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct nfq_inst *q = h->data;

	(void)events;
	if (!q->open)
		return;
	if (status < 0) {
		/* libuv stops the poll handle on EPOLLERR, which a netlink socket
		 * raises when the kernel could not queue a message to it
		 * (netlink_overrun() sets sk_err = ENOBUFS). Read and clear the
		 * error, count it, and poll again: a full buffer is no reason to
		 * stop serving the queue. */
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(q->core.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == ENOBUFS)
			q->core.stats[NFQ_STAT_ENOBUFS]++;
		else
			q->core.stats[NFQ_STAT_RECV_ERRORS]++;
		if (uv_poll_start(&q->poll, UV_READABLE, on_readable) != 0) {
			/* Nothing would read the socket again, while the kernel
			 * still queues to it: unbind, so the queue rule's fail
			 * mode applies at once (and sipwall_queue_bound says 0). */
			q->core.stats[NFQ_STAT_RECV_ERRORS]++;
			do_close(q);
			return;
		}
	}
	int njs = nfq_core_receive(&q->core, nfq_now_ns());
	if (njs < 0)
		return;
	if (njs > 0)
		call_js(q, (uint32_t)njs);
	nfq_core_finish(&q->core);
	if (q->close_pending) {
		q->close_pending = false;
		do_close(q);
	}
}

static napi_value throw_open_error(napi_env env, int code, const char *msg)
{
	const char *js_code = code == NFQ_OPEN_E_BUSY	 ? "NFQ_BUSY"
			      : code == NFQ_OPEN_E_PERM	 ? "NFQ_PERM"
			      : code == NFQ_OPEN_E_NOMEM ? "NFQ_NOMEM"
							 : "NFQ_KERNEL";
	napi_throw_error(env, js_code, msg);
	return NULL;
}

static napi_value set_prop(napi_env env, napi_value obj, const char *name, napi_value v)
{
	NAPI_CALL(env, napi_set_named_property(env, obj, name, v));
	return obj;
}

/* open(queueNum, maxLen, copyRange, flags, rcvBufBytes, batchSize, trustMark,
 *      watchMark, hotMaxEntries, onBatch(count)) -> handle
 * handle carries: data (Buffer), desc (Int32Array), verdicts (Uint8Array),
 * conntrack (boolean), rcvBufBytes (number, as the kernel reports it). */
static napi_value js_open(napi_env env, napi_callback_info info)
{
	size_t argc = NFQ_OPEN_ARGC;
	napi_value argv[NFQ_OPEN_ARGC];
	struct nfq_config cfg;
	uint32_t v;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < NFQ_OPEN_ARGC) {
		napi_throw_type_error(env, "NFQ_ARG", "open() takes 10 arguments");
		return NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (!arg_u32(env, argv[0], "queueNum", 0, 65535, &v))
		return NULL;
	cfg.queue_num = (uint16_t)v;
	if (!arg_u32(env, argv[1], "maxLen", 1, 4294967295.0, &cfg.max_len) ||
	    !arg_u32(env, argv[2], "copyRange", 1, NFQ_MAX_COPY_RANGE, &cfg.copy_range) ||
	    !arg_u32(env, argv[3], "flags", 0, 7, &cfg.flags) ||
	    !arg_u32(env, argv[4], "rcvBufBytes", 4096, 2147483647.0, &cfg.rcvbuf_bytes) ||
	    !arg_u32(env, argv[5], "batchSize", 1, NFQ_MAX_BATCH, &cfg.batch) ||
	    !arg_u32(env, argv[6], "trustMark", 1, 4294967295.0, &cfg.trust_mark) ||
	    !arg_u32(env, argv[7], "watchMark", 0, 4294967295.0, &cfg.watch_mark) ||
	    !arg_u32(env, argv[8], "hotMaxEntries", 1, HOT_TABLE_MAX_ENTRIES, &cfg.hot_max_entries))
		return NULL;
	if ((cfg.watch_mark & cfg.trust_mark) != 0) {
		napi_throw_range_error(env, "NFQ_ARG", "watchMark shares bits with trustMark");
		return NULL;
	}
	napi_valuetype cbt;
	NAPI_CALL(env, napi_typeof(env, argv[9], &cbt));
	if (cbt != napi_function) {
		napi_throw_type_error(env, "NFQ_ARG", "onBatch must be a function");
		return NULL;
	}

	struct nfq_inst *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		napi_throw_error(env, "NFQ_NOMEM", "out of memory");
		return NULL;
	}
	q->env = env;
	napi_value handle;
	if (napi_create_object(env, &handle) != napi_ok ||
	    napi_wrap(env, handle, q, finalize_inst, NULL, NULL) != napi_ok) {
		free(q);
		return throw_napi_failure(env, "napi_wrap");
	}
	/* From here on the handle's finalizer owns q. */
	NAPI_CALL(env, napi_type_tag_object(env, handle, &NFQ_HANDLE_TAG));

	size_t slot = nfq_slot_size(cfg.copy_range);
	void *rx = NULL, *desc_mem = NULL, *verdict_mem = NULL;
	napi_value data, desc_ab, desc, verdict_ab, verdicts;
	/* Memory owned by JavaScript objects, so a Buffer or typed array kept
	 * after close() never points at freed memory. */
	NAPI_CALL(env, napi_create_buffer(env, slot * cfg.batch, &rx, &data));
	NAPI_CALL(env, napi_create_arraybuffer(env, (size_t)cfg.batch * NFQ_DESC_STRIDE * sizeof(int32_t),
					       &desc_mem, &desc_ab));
	NAPI_CALL(env, napi_create_typedarray(env, napi_int32_array,
					      (size_t)cfg.batch * NFQ_DESC_STRIDE, desc_ab, 0, &desc));
	NAPI_CALL(env, napi_create_arraybuffer(env, cfg.batch, &verdict_mem, &verdict_ab));
	NAPI_CALL(env,
		  napi_create_typedarray(env, napi_uint8_array, cfg.batch, verdict_ab, 0, &verdicts));
	if (set_prop(env, handle, "data", data) == NULL ||
	    set_prop(env, handle, "desc", desc) == NULL ||
	    set_prop(env, handle, "verdicts", verdicts) == NULL)
		return NULL;

	char err[320];
	int r = nfq_core_open(&q->core, &cfg, rx, desc_mem, verdict_mem, err, sizeof(err));
	if (r != NFQ_OPEN_OK)
		return throw_open_error(env, r, err);
	q->open = true;

	uv_loop_t *loop = NULL;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
		napi_value res = throw_napi_failure(env, "napi_get_uv_event_loop");
		do_close(q);
		return res;
	}
	int ur = uv_poll_init(loop, &q->poll, q->core.fd);
	if (ur != 0) {
		do_close(q);
		snprintf(err, sizeof(err), "uv_poll_init: %s", uv_strerror(ur));
		return throw_open_error(env, NFQ_OPEN_E_KERNEL, err);
	}
	q->poll_inited = true;
	q->poll.data = q;

	const char *failed = NULL;
	napi_value resname, flag, rcvbuf;
	if (napi_create_reference(env, handle, 1, &q->self_ref) != napi_ok ||
	    napi_create_reference(env, argv[9], 1, &q->cb_ref) != napi_ok ||
	    napi_create_reference(env, data, 1, &q->data_ref) != napi_ok ||
	    napi_create_reference(env, desc, 1, &q->desc_ref) != napi_ok ||
	    napi_create_reference(env, verdicts, 1, &q->verdicts_ref) != napi_ok)
		failed = "napi_create_reference";
	else if (napi_create_string_utf8(env, "sipwall:nfqueue", NAPI_AUTO_LENGTH, &resname) !=
			 napi_ok ||
		 napi_async_init(env, NULL, resname, &q->actx) != napi_ok)
		failed = "napi_async_init";
	else if (napi_add_async_cleanup_hook(env, cleanup_hook, q, &q->cleanup) != napi_ok)
		failed = "napi_add_async_cleanup_hook";
	else if (napi_get_boolean(env, q->core.conntrack != 0, &flag) != napi_ok ||
		 napi_create_uint32(env, (uint32_t)q->core.rcvbuf_effective, &rcvbuf) != napi_ok ||
		 napi_set_named_property(env, handle, "conntrack", flag) != napi_ok ||
		 napi_set_named_property(env, handle, "rcvBufBytes", rcvbuf) != napi_ok)
		failed = "napi_set_named_property";
	if (failed != NULL) {
		napi_value res = throw_napi_failure(env, failed);
		do_close(q);
		return res;
	}
	ur = uv_poll_start(&q->poll, UV_READABLE, on_readable);
	if (ur != 0) {
		do_close(q);
		snprintf(err, sizeof(err), "uv_poll_start: %s", uv_strerror(ur));
		return throw_open_error(env, NFQ_OPEN_E_KERNEL, err);
	}
	return handle;
}

static size_t get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
		throw_napi_failure(env, "napi_get_cb_info");
		return 0;
	}
	if (argc < want) {
		napi_throw_type_error(env, "NFQ_ARG", "missing arguments");
		return 0;
	}
	return argc;
}

static napi_value undefined(napi_env env)
{
	napi_value u;

	NAPI_CALL(env, napi_get_undefined(env, &u));
	return u;
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	napi_value argv[1];

	if (get_args(env, info, 1, argv) == 0)
		return NULL;
	struct nfq_inst *q = arg_inst(env, argv[0]);
	if (q == NULL)
		return NULL;
	if (q->in_callback) {
		/* The batch being answered still needs the socket: close once
		 * its verdicts are sent (on_readable()). */
		q->close_pending = true;
		return undefined(env);
	}
	if (do_close(q) != napi_ok)
		return throw_napi_failure(env, "close");
	return undefined(env);
}

static struct nfq_inst *open_inst(napi_env env, napi_value v)
{
	struct nfq_inst *q = arg_inst(env, v);

	if (q != NULL && !q->open) {
		napi_throw_error(env, "NFQ_CLOSED", "the queue is closed");
		return NULL;
	}
	return q;
}

static bool arg_addr(napi_env env, napi_value addr_v, napi_value family_v, uint32_t *family,
		     const uint8_t **addr)
{
	size_t len = 0;

	if (!arg_u32(env, family_v, "family", 4, 6, family) || !arg_bytes(env, addr_v, "addr", addr, &len))
		return false;
	if (!((*family == 4 && len == 4) || (*family == 6 && len == 16))) {
		napi_throw_range_error(env, "NFQ_ARG",
				       "addr must be 4 bytes for family 4, 16 bytes for family 6");
		return false;
	}
	return true;
}

/* hotSet(handle, addr, family, verdict, ttlMs) -> boolean (false: table full) */
static napi_value js_hot_set(napi_env env, napi_callback_info info)
{
	napi_value argv[5], result;
	uint32_t family, verdict, ttl_ms;
	const uint8_t *addr;

	if (get_args(env, info, 5, argv) == 0)
		return NULL;
	struct nfq_inst *q = open_inst(env, argv[0]);
	if (q == NULL || !arg_addr(env, argv[1], argv[2], &family, &addr) ||
	    !arg_u32(env, argv[3], "verdict", 0, NFQ_VERDICT_TRUST, &verdict) ||
	    !arg_u32(env, argv[4], "ttlMs", 1, 4294967295.0, &ttl_ms))
		return NULL;
	uint64_t now = nfq_now_ns();
	bool ok = hot_table_set(&q->core.hot, (int)family, addr, (uint8_t)verdict,
				now + (uint64_t)ttl_ms * 1000000ULL, now);
	NAPI_CALL(env, napi_get_boolean(env, ok, &result));
	return result;
}

/* hotDelete(handle, addr, family) -> boolean (true: an entry was removed) */
static napi_value js_hot_delete(napi_env env, napi_callback_info info)
{
	napi_value argv[3], result;
	uint32_t family;
	const uint8_t *addr;

	if (get_args(env, info, 3, argv) == 0)
		return NULL;
	struct nfq_inst *q = open_inst(env, argv[0]);
	if (q == NULL || !arg_addr(env, argv[1], argv[2], &family, &addr))
		return NULL;
	bool removed = hot_table_delete(&q->core.hot, (int)family, addr);
	NAPI_CALL(env, napi_get_boolean(env, removed, &result));
	return result;
}

static napi_value js_hot_clear(napi_env env, napi_callback_info info)
{
	napi_value argv[1];

	if (get_args(env, info, 1, argv) == 0)
		return NULL;
	struct nfq_inst *q = open_inst(env, argv[0]);
	if (q == NULL)
		return NULL;
	hot_table_clear(&q->core.hot);
	return undefined(env);
}

/* stats(handle, Float64Array): copies the counters (still readable after
 * close()). */
static napi_value js_stats(napi_env env, napi_callback_info info)
{
	napi_value argv[2], ab;
	bool is_ta = false;
	napi_typedarray_type t;
	size_t len, off;
	void *data;

	if (get_args(env, info, 2, argv) == 0)
		return NULL;
	struct nfq_inst *q = arg_inst(env, argv[0]);
	if (q == NULL)
		return NULL;
	if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
	    napi_get_typedarray_info(env, argv[1], &t, &len, &data, &ab, &off) != napi_ok ||
	    t != napi_float64_array) {
		clear_pending_exception(env);
		napi_throw_type_error(env, "NFQ_ARG", "stats() needs a Float64Array");
		return NULL;
	}
	q->core.stats[NFQ_STAT_HOT_ENTRIES] = q->open ? q->core.hot.count : 0;
	if (len > NFQ_STAT_COUNT)
		len = NFQ_STAT_COUNT;
	memcpy(data, q->core.stats, len * sizeof(double));
	return undefined(env);
}

static napi_value export_u32(napi_env env, napi_value exports, const char *name, uint32_t value)
{
	napi_value v;

	NAPI_CALL(env, napi_create_uint32(env, value, &v));
	return set_prop(env, exports, name, v);
}

NAPI_MODULE_INIT()
{
	const napi_property_descriptor fns[] = {
		{"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
		{"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
		{"hotSet", NULL, js_hot_set, NULL, NULL, NULL, napi_enumerable, NULL},
		{"hotDelete", NULL, js_hot_delete, NULL, NULL, NULL, napi_enumerable, NULL},
		{"hotClear", NULL, js_hot_clear, NULL, NULL, NULL, napi_enumerable, NULL},
		{"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
	};

	NAPI_CALL(env, napi_define_properties(env, exports, sizeof(fns) / sizeof(fns[0]), fns));
	if (export_u32(env, exports, "abiVersion", NFQ_ABI_VERSION) == NULL ||
	    export_u32(env, exports, "statsCount", NFQ_STAT_COUNT) == NULL ||
	    export_u32(env, exports, "descStride", NFQ_DESC_STRIDE) == NULL)
		return NULL;
	return exports;
}
