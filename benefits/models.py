"""The benefit catalogue and coupons (see the coupons and benefits issues)."""
