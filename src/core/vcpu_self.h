/* vcpu_self.h — which vCPU the calling thread runs, for device models that must
 * know who did an access (the test device's check-in). Set once by each vCPU
 * thread before its first KVM_RUN. Thread-local: it names the thread, it is
 * not VM state. */
#ifndef BH_VCPU_SELF_H
#define BH_VCPU_SELF_H

/* Index (0..N-1) of the vCPU this thread runs, or -1 on any other thread. */
int vcpu_self_index(void);
void vcpu_self_set(int index);

#endif
