/* vcpu_self.c — see vcpu_self.h. */
#include "vcpu_self.h"

static _Thread_local int vcpu_self = -1;

int vcpu_self_index(void)
{
	return vcpu_self;
}

void vcpu_self_set(int index)
{
	vcpu_self = index;
}
