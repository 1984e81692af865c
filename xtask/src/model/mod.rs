//! The routing model: where each device's interrupt must land on a machine
//! shape, and from it the plan the guest suite is judged by.

pub mod routing;
