-- Gateway requests state the GAS budget of their response (`request(..., gasBudget)`, carried in
-- the ServiceRequest event): the node never signs a response whose system + network fee exceed
-- it. NULL for native OracleContract requests (their fees come from gasForResponse).

ALTER TABLE oracle_requests ADD COLUMN gas_budget BIGINT;
