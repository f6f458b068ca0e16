#include "bn_test.h"
static void placeholder_should_be_replaced(void) { CU_FAIL("placeholder"); }
BN_TEST_MAIN("checkpoint", BN_TEST(placeholder_should_be_replaced))
