/* Agreement before collectives: ranks compare a fingerprint of the
 * collective sequence they are about to run, so a rank that would issue
 * different collectives (another op, dtype, element count, attribute, or a
 * different number of them) is an error on every rank instead of a hang or
 * a mismatched transfer.
 *
 * The fingerprint is a 32-byte digest of, for every collective-flagged node in
 * execution order (regions before the node that holds them): the op name,
 * operand 0's dtype, rank and dims — each dim as its value under the
 * symbols bound by the inputs, or as its canonical text when it depends on
 * a data-dependent symbol (those collectives agree on their count at run
 * time instead, see ops_collective.c) — and every attribute in schema
 * order, hashed with SHA-256. Value names and the graph name are left
 * out: they may differ between ranks without harm.
 */
#ifndef GC_COMM_FINGERPRINT_H
#define GC_COMM_FINGERPRINT_H

#include "comm/comm.h"
#include "interp/tensor.h"
#include "ir/ir.h"

#define GC_FINGERPRINT_BYTES 32

/* Fingerprint of g's collective sequence when run on `inputs`; also the
 * number of collective nodes. Fails (without touching a communicator) when
 * the inputs do not match g's signature, with the message the interpreter
 * would give. */
graphc_status_t gc_collective_fingerprint(const gc_graph *g, const gc_tensor *inputs, int ninputs,
                                          uint8_t fp[GC_FINGERPRINT_BYTES], int *ncollectives);

/* Exchanges `fp` (`len` <= 32 bytes, zero-padded) with every rank of
 * `comm` and returns FAILED_PRECONDITION on every rank if any differ,
 * naming the groups of ranks that agree and their fingerprints. fp NULL
 * says "this rank failed before reaching its collectives": it still takes
 * part in the exchange, so the other ranks fail at once instead of timing
 * out (the call then returns an error too, which the caller usually drops
 * in favour of its own). `what` names the unit being agreed on. A timeout
 * is UNAVAILABLE and leaves the communicator unusable (comm_mpi.h). */
graphc_status_t gc_comm_check_fingerprint(gc_comm *comm, const void *fp, size_t len,
                                          const char *what);

/* The distributed interpreter run: fingerprint, agreement, then
 * gc_interp_run_comm. Collective over `comm`: every rank calls it with its
 * own inputs, the same graph, and in the same order. */
graphc_status_t gc_interp_run_agreed(const gc_graph *g, uint64_t max_bytes, gc_comm *comm,
                                     const gc_tensor *inputs, int ninputs, gc_tensor *outputs);

#endif
