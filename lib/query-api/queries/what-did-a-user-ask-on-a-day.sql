-- What did user X ask on day D: every request of one principal on one day, with its outcome, model,
-- prompt version, tier and answer. Parameters (in order): principal, day (YYYY-MM-DD).
SELECT time, requestid, workflow, tier, question, outcome, status, model, promptversion, degraded, answer
FROM requests
WHERE principal = ? AND dt = ?
ORDER BY time
