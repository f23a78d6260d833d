//! l4sim
