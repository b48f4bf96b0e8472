"""Side effects of automatic pipeline steps; pure logic lives in the `*_logic` modules."""
