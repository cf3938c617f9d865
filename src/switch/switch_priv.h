/* switch_priv.h — between switch.c (forwarding) and switch_loop.c (event
 * loop) only. Same thread and ownership rules as switch.h. */
#ifndef BH_SWITCH_SWITCH_PRIV_H
#define BH_SWITCH_SWITCH_PRIV_H

#include "switch/switch.h"

/* Port i's held frame: if its tokens are due at now, forward it and read
 * the port again (true); else move its deadline (false). */
bool sw_port_release(struct sw *s, unsigned i, uint64_t now);
/* Remove every port marked dead (hung up, send error). */
void sw_reap_dead(struct sw *s);
/* Send a violation event to every subscribed control client (never blocks). */
void sw_client_event(struct sw *s, const char *json, size_t len);
/* Arm the timerfd for the earliest held frame (or disarm it). */
void sw_rearm_timer(struct sw *s);

/* Set port i's epoll events: EPOLLIN unless it holds a frame for tokens,
 * EPOLLOUT while a stream port's queue is not empty. */
void sw_port_watch(struct sw *s, unsigned i);
/* A stream port is readable/writable (events from epoll; 0 = read again
 * after a held frame was released): drain its queue, handle every whole
 * frame in its buffer, read more (at most SW_STREAM_READS times). */
void sw_stream_io(struct sw *s, unsigned i, uint32_t events);
/* Queue msg (net_port_hdr + frame) whole toward stream port `to`, or drop
 * and count it; then send what the socket takes. */
void sw_stream_send(struct sw *s, struct sw_port *to, const uint8_t *msg, size_t len);

#endif
