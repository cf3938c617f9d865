int guest_main(void) { return 1; }
