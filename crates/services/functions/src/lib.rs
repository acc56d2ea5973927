//! Functions service: users' JavaScript functions with versions, limits, granted secrets and executions.
