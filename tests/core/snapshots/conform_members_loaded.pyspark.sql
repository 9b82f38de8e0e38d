SELECT
  `t3`.`member_id`,
  `t3`.`birth_date`,
  CAST(NULL AS DATE) AS `death_date`,
  `t3`.`sex`,
  CAST(NULL AS STRING) AS `race_code`,
  CAST(NULL AS STRING) AS `zip_code`,
  CAST(NULL AS STRING) AS `state_code`,
  CAST(NULL AS STRING) AS `county_fips`,
  CAST(NULL AS STRING) AS `ssa_county_code`,
  `t3`.`dual_status_code`,
  CAST(NULL AS STRING) AS `orec`,
  CAST(NULL AS STRING) AS `crec`,
  `t3`.`esrd`,
  CAST(NULL AS BOOLEAN) AS `institutional`,
  CAST(NULL AS BOOLEAN) AS `medicaid`,
  'csv' AS `source_format`,
  `t3`.`source_file`,
  `t3`.`source_line`
FROM (
  SELECT
    `t2`.`member_id`,
    `t2`.`birth_date`,
    `t2`.`sex`,
    `t2`.`dual_status_code`,
    `t2`.`esrd`,
    `t2`.`_reason`,
    `t2`.`_field`,
    `t2`.`source_file`,
    `t2`.`source_line`,
    `t2`.`_record`,
    `t2`.`_valid`,
    `t2`.`_valid`
    AND (
      (
        ROW_NUMBER() OVER (
          PARTITION BY `t2`.`_valid`, `t2`.`member_id`
          ORDER BY `t2`.`source_file` ASC NULLS LAST, `t2`.`source_line` ASC NULLS LAST
        ) - 1
      ) > 0
    ) AS `_later`,
    FIRST(`t2`.`source_line`) IGNORE NULLS OVER (
      PARTITION BY `t2`.`_valid`, `t2`.`member_id`
      ORDER BY `t2`.`source_file` ASC NULLS LAST, `t2`.`source_line` ASC NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `_first_line`,
    FIRST(`t2`.`source_file`) IGNORE NULLS OVER (
      PARTITION BY `t2`.`_valid`, `t2`.`member_id`
      ORDER BY `t2`.`source_file` ASC NULLS LAST, `t2`.`source_line` ASC NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `_first_file`
  FROM (
    SELECT
      `t1`.`member_id`,
      `t1`.`birth_date`,
      `t1`.`sex`,
      `t1`.`dual_status_code`,
      `t1`.`esrd`,
      `t1`.`_reason`,
      `t1`.`_field`,
      `t1`.`source_file`,
      `t1`.`source_line`,
      `t1`.`_record`,
      `t1`.`_reason` IS NULL AS `_valid`
    FROM (
      SELECT
        NULLIF(REGEXP_REPLACE(`t0`.`member_id`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') AS `member_id`,
        TRY_CAST(IF(
          NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
          NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), ''),
          CAST(NULL AS STRING)
        ) AS DATE) AS `birth_date`,
        NULLIF(REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') AS `sex`,
        NULLIF(REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') AS `dual_status_code`,
        CASE
          WHEN LOWER(NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '')) IN ('true', 't', '1', 'y', 'yes')
          THEN TRUE
          WHEN LOWER(NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '')) IN ('false', 'f', '0', 'n', 'no')
          THEN FALSE
          ELSE CAST(NULL AS BOOLEAN)
        END AS `esrd`,
        NULLIF(
          CONCAT_WS(
            '; ',
            CASE
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`member_id`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NULL
                )
                AND NOT (
                  FALSE
                ),
                FALSE
              )
              THEN 'member_id: required field is empty'
              WHEN COALESCE(FALSE, FALSE)
              THEN 'member_id: not a valid string'
              ELSE CAST(NULL AS STRING)
            END,
            CASE
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND (
                  TRY_CAST(IF(
                    NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                    NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), ''),
                    CAST(NULL AS STRING)
                  ) AS DATE) IS NULL
                ),
                FALSE
              )
              THEN 'birth_date: not a valid date (YYYY-MM-DD)'
              ELSE CAST(NULL AS STRING)
            END,
            CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'sex: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND NOT (
                  NULLIF(REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IN ('M', 'F', 'U')
                ),
                FALSE
              )
              THEN 'sex: unknown code (allowed: M, F, U)'
              ELSE CAST(NULL AS STRING)
            END,
            CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'dual_status_code: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND NOT (
                  NULLIF(REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
                ),
                FALSE
              )
              THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
              ELSE CAST(NULL AS STRING)
            END,
            CASE
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND (
                  CASE
                    WHEN LOWER(NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '')) IN ('true', 't', '1', 'y', 'yes')
                    THEN TRUE
                    WHEN LOWER(NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '')) IN ('false', 'f', '0', 'n', 'no')
                    THEN FALSE
                    ELSE CAST(NULL AS BOOLEAN)
                  END IS NULL
                ),
                FALSE
              )
              THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
              ELSE CAST(NULL AS STRING)
            END
          ),
          ''
        ) AS `_reason`,
        COALESCE(
          IF(
            CASE
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`member_id`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NULL
                )
                AND NOT (
                  FALSE
                ),
                FALSE
              )
              THEN 'member_id: required field is empty'
              WHEN COALESCE(FALSE, FALSE)
              THEN 'member_id: not a valid string'
              ELSE CAST(NULL AS STRING)
            END IS NULL,
            CAST(NULL AS STRING),
            'member_id'
          ),
          IF(
            CASE
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND (
                  TRY_CAST(IF(
                    NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                    NULLIF(REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), ''),
                    CAST(NULL AS STRING)
                  ) AS DATE) IS NULL
                ),
                FALSE
              )
              THEN 'birth_date: not a valid date (YYYY-MM-DD)'
              ELSE CAST(NULL AS STRING)
            END IS NULL,
            CAST(NULL AS STRING),
            'birth_date'
          ),
          IF(
            CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'sex: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND NOT (
                  NULLIF(REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IN ('M', 'F', 'U')
                ),
                FALSE
              )
              THEN 'sex: unknown code (allowed: M, F, U)'
              ELSE CAST(NULL AS STRING)
            END IS NULL,
            CAST(NULL AS STRING),
            'sex'
          ),
          IF(
            CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'dual_status_code: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND NOT (
                  NULLIF(REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
                ),
                FALSE
              )
              THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
              ELSE CAST(NULL AS STRING)
            END IS NULL,
            CAST(NULL AS STRING),
            'dual_status_code'
          ),
          IF(
            CASE
              WHEN COALESCE(
                (
                  NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '') IS NOT NULL
                )
                AND (
                  CASE
                    WHEN LOWER(NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '')) IN ('true', 't', '1', 'y', 'yes')
                    THEN TRUE
                    WHEN LOWER(NULLIF(REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''), '')) IN ('false', 'f', '0', 'n', 'no')
                    THEN FALSE
                    ELSE CAST(NULL AS BOOLEAN)
                  END IS NULL
                ),
                FALSE
              )
              THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
              ELSE CAST(NULL AS STRING)
            END IS NULL,
            CAST(NULL AS STRING),
            'esrd'
          )
        ) AS `_field`,
        `t0`.`source_file`,
        `t0`.`source_line`,
        `t0`.`_record`
      FROM `raw` AS `t0`
    ) AS `t1`
  ) AS `t2`
) AS `t3`
WHERE
  IF(
    `t3`.`_later`,
    CONCAT(
      'duplicate key (member_id): first loaded from ',
      CONCAT(`t3`.`_first_file`, ' line ', CAST(`t3`.`_first_line` AS STRING))
    ),
    `t3`.`_reason`
  ) IS NULL
