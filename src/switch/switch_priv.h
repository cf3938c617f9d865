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

#endif
