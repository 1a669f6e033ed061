-- Which requests saw document Y: every request whose retrieved chunks include the document key, with
-- who asked, when, the version and score seen, and the tier. Parameters (in order): document key,
-- first day, last day (YYYY-MM-DD).
SELECT a.time, a.requestid, a.principal, a.tier, a.question, r.versionid, r.score, a.outcome
FROM requests a
CROSS JOIN UNNEST(a.retrieved) AS t(r)
WHERE r.key = ? AND a.dt BETWEEN ? AND ?
ORDER BY a.time
