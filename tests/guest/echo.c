/* echo.c — console input: reads one line from COM1 (polling LSR.DR, bounded)
 * and prints it back with its length and a checksum. Proves the host's stdin
 * reaches the guest through the input thread and the UART's bounded RX FIFO,
 * in order and complete even when the line is far longer than the FIFO (the
 * host must hold back bytes while the FIFO is full, never drop them).
 * Exit 0 when a line arrived, 1 on timeout. */
#include "rt/rt.h"

#define COM1 0x3f8
#define LSR_DR 0x01
#define MAX_LINE 1024

int guest_main(void)
{
	static char line[MAX_LINE + 1];
	uint64_t budget = rt_param_u64("polls=", 2000000);
	uint32_t len = 0, sum = 0;

	/* The FIFO stays off (1-byte receive buffer) on purpose: enabling it
	 * would clear bytes the host may already have delivered, and a 1-byte
	 * buffer is the hardest case for the host's flow control. */
	rt_puts("echo: ready\n");
	while (budget--) {
		if (!(inb(COM1 + 5) & LSR_DR))
			continue;
		char ch = (char)inb(COM1);

		if (ch == '\n' || ch == '\r' || len == MAX_LINE)
			break;
		line[len++] = ch;
		sum = sum * 31 + (uint8_t)ch;
	}
	line[len] = '\0';
	if (len == 0) {
		rt_puts("FAIL echo: no input arrived\n");
		return 1;
	}
	rt_printf("echo: len %u sum %x\n", len, sum);
	rt_printf("echo: %s\n", len > 64 ? "(long line)" : line);
	rt_puts("PASS echo\n");
	return 0;
}
